/**
 * The rollout service: drives agent episodes for tasks (groups of N samples, tree branches) through
 * inference and the sandbox, and publishes their trajectories to katmesh.trajectories.rollout. Today it is
 * the application shell (health, metrics, Kafka and gRPC clients wired); episodes come with the rollout
 * issue.
 */
package dev.katmesh.rollout;
