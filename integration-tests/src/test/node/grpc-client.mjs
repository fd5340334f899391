// katmesh.v1.Inference/GenerateStream through @grpc/grpc-js. Usage:
//   node grpc-client.mjs <host:port> <proto dir> [ids...]   with KATMESH_API_KEY set (or empty for none);
//   over TLS when KATMESH_GRPC_CA names the CA certificate (PEM) to trust.
// Prints one JSON object: the streamed token ids, log-probs, versions and the finish reason.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { readFileSync } from "node:fs";

const [target, protoDir, ...ids] = process.argv.slice(2);
const def = protoLoader.loadSync("katmesh/v1/inference.proto", { includeDirs: [protoDir], keepCase: true, longs: Number, defaults: true });
const katmesh = grpc.loadPackageDefinition(def).katmesh.v1;
const credentials = process.env.KATMESH_GRPC_CA
  ? grpc.credentials.createSsl(readFileSync(process.env.KATMESH_GRPC_CA))
  : grpc.credentials.createInsecure();
const client = new katmesh.Inference(target, credentials);
const md = new grpc.Metadata();
if (process.env.KATMESH_API_KEY) md.set("authorization", "Bearer " + process.env.KATMESH_API_KEY);

const out = { token_ids: [], logprobs: [], versions: [], messages: 0, finish_reason: null, prompt_token_ids: [] };
const call = client.GenerateStream({
  prompt_token_ids: ids.map(Number),
  sampling: { max_new_tokens: 10, temperature: 0 },
}, md, { deadline: Date.now() + 60000 });
call.on("data", (r) => {
  out.messages++;
  out.token_ids.push(...r.token_ids);
  out.logprobs.push(...r.logprobs);
  out.versions.push(...r.token_policy_versions);
  if (r.prompt_token_ids.length) out.prompt_token_ids = r.prompt_token_ids;
  if (r.finished) out.finish_reason = r.finish_reason;
});
call.on("error", (e) => { console.log(JSON.stringify({ error: e.details, code: e.code })); process.exit(0); });
call.on("end", () => { console.log(JSON.stringify(out)); process.exit(0); });
