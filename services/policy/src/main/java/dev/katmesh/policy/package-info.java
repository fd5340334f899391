/**
 * The policy model on DJL: a Qwen2/Qwen3-compatible decoder loaded from Hugging Face checkpoints,
 * tokenizer and chat template, KV cache, sampling, log-probs, the training forward with token masks and
 * tree attention, and checkpoint IO. Shared by inference and the learner; arrives with its own issue.
 */
package dev.katmesh.policy;
