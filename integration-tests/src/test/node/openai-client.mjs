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
    case "responses": {
      const r = await client.responses.create({ model, instructions: "You are a coding agent.",
        input: "Write a function that adds two numbers.", max_output_tokens: 12, temperature: 0 });
      return { id: r.id, object: r.object, status: r.status, output_text: r.output_text, usage: r.usage,
        incomplete: r.incomplete_details, types: r.output.map((o) => o.type) };
    }
    case "responses-stream": {
      const stream = await client.responses.create({ model, instructions: "You are a coding agent.",
        input: "Write a function that adds two numbers.", max_output_tokens: 12, temperature: 0, stream: true });
      const events = [];
      let deltas = "";
      let final = null;
      for await (const e of stream) {
        events.push(e.type);
        if (e.type === "response.output_text.delta") deltas += e.delta;
        if (e.type === "response.completed" || e.type === "response.incomplete") final = e.response;
      }
      const sequence = events.length;
      return { deltas, status: final?.status, usage: final?.usage, events: [...new Set(events)], sequence,
        text: final?.output?.[0]?.content?.[0]?.text };
    }
    case "responses-previous": {
      // A conversation continued by previous_response_id, then the stored response retrieved and deleted.
      const first = await client.responses.create({ model, input: "Write a function that adds two numbers.",
        max_output_tokens: 6, temperature: 0, prompt_cache_key: process.env.KATMESH_SESSION });
      const second = await client.responses.create({ model, previous_response_id: first.id,
        input: [{ role: "user", content: [{ type: "input_text", text: "Now add a test." }] }],
        max_output_tokens: 6, temperature: 0 });
      const got = await client.responses.retrieve(second.id);
      const deleted = await client.responses.delete(second.id);
      let after = null;
      try { await client.responses.retrieve(second.id); } catch (e) { after = e.status; }
      return { first: first.usage, second: second.usage, previous: second.previous_response_id,
        retrieved: got.id === second.id, deleted: deleted ?? null, after };
    }
    case "responses-tools-history": {
      // Codex's shape of a turn after a tool call: function_call and function_call_output items.
      const r = await client.responses.create({ model, max_output_tokens: 8, temperature: 0,
        tools: [{ type: "function", name: "bash", description: "Run a shell command", strict: false,
          parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } }],
        input: [
          { type: "message", role: "developer", content: [{ type: "input_text", text: "Be brief." }] },
          { type: "message", role: "user", content: [{ type: "input_text", text: "List the files." }] },
          { type: "function_call", call_id: "call_1", name: "bash", arguments: "{\"command\": \"ls\"}" },
          { type: "function_call_output", call_id: "call_1", output: "a.py\nb.py" },
        ] });
      return { status: r.status, usage: r.usage };
    }
    case "responses-tools-call":
    case "responses-tools-stream": {
      const params = { model, max_output_tokens: 80, temperature: 0, input: "Count the lines of a.py.",
        tools: [{ type: "function", name: "bash", description: "Run a shell command", strict: false,
          parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } }] };
      if (mode === "responses-tools-call") {
        const r = await client.responses.create(params);
        return { status: r.status, calls: r.output.filter((o) => o.type === "function_call")
          .map((o) => ({ call_id: o.call_id, name: o.name, arguments: o.arguments })) };
      }
      const stream = await client.responses.create({ ...params, stream: true });
      let args = "";
      let final = null;
      for await (const e of stream) {
        if (e.type === "response.function_call_arguments.delta") args += e.delta;
        if (e.type === "response.completed") final = e.response;
      }
      return { status: final?.status, streamed_arguments: args, calls: (final?.output ?? [])
        .filter((o) => o.type === "function_call").map((o) => ({ call_id: o.call_id, name: o.name, arguments: o.arguments })) };
    }
    case "responses-bad": {
      try {
        await client.responses.create({ model, input: [{ type: "function_call_output", call_id: "nope", output: "x" }] });
        return { status: 200 };
      } catch (e) {
        return { status: e.status, code: e.code, param: e.param, message: e.message };
      }
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
    case "template-kwargs": {
      // chat_template_kwargs travels as an extra body field, as users send it to vLLM with this SDK.
      const messages = [{ role: "user", content: "hi" }];
      const ok = await client.chat.completions.create({
        model, messages, max_tokens: 1, chat_template_kwargs: { enable_thinking: false },
      });
      try {
        await client.chat.completions.create({ model, messages, max_tokens: 1, chat_template_kwargs: { messages: [] } });
        return { ok: ok.choices.length, status: 200 };
      } catch (e) {
        return { ok: ok.choices.length, status: e.status, param: e.param, message: e.message };
      }
    }
    default:
      throw new Error("unknown mode " + mode);
  }
}

main(process.argv[2]).then(
  (out) => console.log(JSON.stringify(out)),
  (e) => {
    console.log(JSON.stringify({ error: String(e), status: e.status, cause: e.cause ? String(e.cause.cause ?? e.cause) : null }));
    process.exit(1);
  },
);
