/**
 * The inference service: serves the current policy over gRPC (katmesh.v1.Inference) and an
 * OpenAI-compatible HTTP API with continuous batching ({@link dev.katmesh.policy.ContinuousBatcher}),
 * hot-swaps weights from the learner ({@link dev.katmesh.inference.WeightSync}) and captures deployed
 * agents' sessions as trajectories ({@link dev.katmesh.inference.SessionRecorder}).
 */
package dev.katmesh.inference;
