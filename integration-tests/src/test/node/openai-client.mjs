// The official OpenAI SDK against katmesh's OpenAI-compatible API. Usage:
//   node openai-client.mjs <mode>   with KATMESH_OPENAI_URL, KATMESH_API_KEY, KATMESH_MODEL set.
// Prints one JSON object with what the SDK returned, for the Java test to check.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.KATMESH_OPENAI_URL,
  apiKey: process.env.KATMESH_API_KEY,
  maxRetries: 0,
  defaultHeaders: process.env.KATMESH_SESSION ? { "x-katmesh-session-id": process.env.KATMESH_SESSION } : {},
});
const model = process.env.KATMESH_MODEL;
const tools = [{
  type: "function",
  function: {
    name: "bash",
    description: "Run a shell command",
    parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
  },
}];

async function main(mode) {
  switch (mode) {
    case "models": {
      const list = await client.models.list();
      return { ids: list.data.map((m) => m.id) };
    }
    case "chat": {
      const r = await client.chat.completions.create({
        model, messages: [{ role: "user", content: "Write a function that adds two numbers." }],
        max_tokens: 12, temperature: 0, logprobs: true,
      });
      const c = r.choices[0];
      return { content: c.message.content, finish_reason: c.finish_reason, usage: r.usage,
        logprobs: c.logprobs.content.map((t) => t.logprob) };
    }
    case "stream": {
      const stream = await client.chat.completions.create({
        model, messages: [{ role: "user", content: "Write a function that adds two numbers." }],
        max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
      });
      let content = "";
      let chunks = 0;
      let finish = null;
      let usage = null;
      for await (const chunk of stream) {
        chunks++;
        if (chunk.usage) usage = chunk.usage;
        for (const ch of chunk.choices) {
          content += ch.delta?.content ?? "";
          if (ch.finish_reason) finish = ch.finish_reason;
        }
      }
      return { content, chunks, finish_reason: finish, usage };
    }
    case "tools": {
      // A conversation with an earlier tool call and its result, as agents send them.
      const r = await client.chat.completions.create({
        model, tools, tool_choice: "auto", max_tokens: 40, temperature: 0,
        messages: [
          { role: "user", content: "List the files." },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "bash", arguments: "{\"command\": \"ls\"}" } }] },
          { role: "tool", tool_call_id: "call_1", content: "a.py\nb.py" },
          { role: "user", content: "Now count the lines of a.py." },
        ],
      });
      const c = r.choices[0];
      return { content: c.message.content, tool_calls: c.message.tool_calls ?? [], finish_reason: c.finish_reason };
    }
    case "tools-call": {
      const r = await client.chat.completions.create({
        model, tools, max_tokens: 80, temperature: 0,
        messages: [{ role: "user", content: "Count the lines of a.py." }],
      });
      const c = r.choices[0];
      return { content: c.message.content, finish_reason: c.finish_reason,
        tool_calls: (c.message.tool_calls ?? []).map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })) };
    }
    case "tools-stream": {
      const stream = await client.chat.completions.create({
        model, tools, max_tokens: 80, temperature: 0, stream: true,
        messages: [{ role: "user", content: "Count the lines of a.py." }],
      });
      let content = "";
      const calls = [];
      let finish = null;
      for await (const chunk of stream) {
        for (const ch of chunk.choices) {
          content += ch.delta?.content ?? "";
          for (const tc of ch.delta?.tool_calls ?? []) {
            calls[tc.index] = { id: tc.id, name: tc.function?.name, arguments: tc.function?.arguments };
          }
          if (ch.finish_reason) finish = ch.finish_reason;
        }
      }
      return { content, tool_calls: calls, finish_reason: finish };
    }
    case "bad-key": {
      const bad = new OpenAI({ baseURL: process.env.KATMESH_OPENAI_URL, apiKey: "wrong", maxRetries: 0 });
      try {
        await bad.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });
        return { status: 200 };
      } catch (e) {
        return { status: e.status, code: e.code, type: e.type, message: e.message };
      }
    }
    case "bad-request": {
      try {
        await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], temperature: 7 });
        return { status: 200 };
      } catch (e) {
        return { status: e.status, code: e.code, param: e.param, message: e.message };
      }
    }
    default:
      throw new Error("unknown mode " + mode);
  }
}

main(process.argv[2]).then(
  (out) => console.log(JSON.stringify(out)),
  (e) => { console.log(JSON.stringify({ error: String(e), status: e.status })); process.exit(1); },
);
