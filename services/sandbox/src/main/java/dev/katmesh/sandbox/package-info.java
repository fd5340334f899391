/**
 * Running untrusted agent code: a bubblewrap process sandbox (the local default) and a Kubernetes Job
 * sandbox (fabric8), with limits, no network and clear verdicts. Arrives with the rollout issue.
 */
package dev.katmesh.sandbox;
