/**
 * The inference service: serves the current policy over gRPC (katmesh.v1.Inference) and an
 * OpenAI-compatible HTTP API, hot-swaps weights from the learner and captures deployed agents'
 * sessions. Today it is the application shell (health, metrics, gRPC server with health and
 * reflection); generation comes with the policy model and inference issues.
 */
package dev.katmesh.inference;
