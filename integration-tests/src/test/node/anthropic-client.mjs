// The official Anthropic SDK against katmesh's Messages API (/v1/messages). Usage:
//   node anthropic-client.mjs <mode>   with KATMESH_BASE_URL (no /v1), KATMESH_API_KEY, KATMESH_MODEL set;
//   KATMESH_CLAUDE_SESSION, when set, is sent as Claude Code's X-Claude-Code-Session-Id header.
// Prints one JSON object with what the SDK returned, for the Java test to check.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({
  baseURL: process.env.KATMESH_BASE_URL,
  apiKey: process.env.KATMESH_API_KEY,
  maxRetries: 0,
  defaultHeaders: process.env.KATMESH_CLAUDE_SESSION
    ? { "X-Claude-Code-Session-Id": process.env.KATMESH_CLAUDE_SESSION } : {},
});
const model = process.env.KATMESH_MODEL;
const tools = [{
  name: "bash",
  description: "Run a shell command",
  input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
}];
const ask = [{ role: "user", content: "Write a function that adds two numbers." }];

function text(message) {
  return message.content.filter((b) => b.type === "text").map((b) => b.text).join("");
}

function calls(message) {
  return message.content.filter((b) => b.type === "tool_use").map((b) => ({ id: b.id, name: b.name, input: b.input }));
}

async function streamed(params) {
  const stream = client.messages.stream(params);
  const events = [];
  let deltas = "";
  stream.on("streamEvent", (e) => events.push(e.type));
  stream.on("text", (t) => { deltas += t; });
  const final = await stream.finalMessage();
  return { text: text(final), deltas, calls: calls(final), stop_reason: final.stop_reason, usage: final.usage,
    events: [...new Set(events)], first_event: events[0], last_event: events[events.length - 1] };
}

async function main(mode) {
  switch (mode) {
    case "message": {
      const m = await client.messages.create({ model, max_tokens: 12, temperature: 0, messages: ask,
        system: [{ type: "text", text: "You are a coding agent." }] });
      return { id: m.id, type: m.type, role: m.role, text: text(m), stop_reason: m.stop_reason, usage: m.usage };
    }
    case "stream":
      return streamed({ model, max_tokens: 12, temperature: 0, messages: ask,
        system: [{ type: "text", text: "You are a coding agent." }] });
    case "stop-sequence": {
      const m = await client.messages.create({ model, max_tokens: 40, temperature: 0, messages: ask,
        stop_sequences: [process.argv[3]] });
      return { text: text(m), stop_reason: m.stop_reason, stop_sequence: m.stop_sequence };
    }
    case "count-tokens": {
      const c = await client.messages.countTokens({ model, messages: ask, tools });
      return { input_tokens: c.input_tokens };
    }
    case "conversation": {
      // Two turns of one session, the second carrying the first's answer back.
      const first = await client.messages.create({ model, max_tokens: 8, temperature: 0, messages: ask, tools });
      const second = await client.messages.create({ model, max_tokens: 8, temperature: 0, tools, messages: [
        ...ask,
        { role: "assistant", content: first.content.length ? first.content : [{ type: "text", text: "" }] },
        { role: "user", content: [{ type: "text", text: "Now add a test." }] },
      ] });
      return { turns: [first, second].map((m) => ({ stop_reason: m.stop_reason, usage: m.usage })) };
    }
    case "tool-history": {
      // An earlier tool round trip in the history, as Claude Code sends it: tool_use, then tool_result + text.
      const m = await client.messages.create({ model, max_tokens: 8, temperature: 0, tools, messages: [
        { role: "user", content: "List the files." },
        { role: "assistant", content: [{ type: "text", text: "Listing." },
          { type: "tool_use", id: "toolu_1", name: "bash", input: { command: "ls" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "a.py\nb.py" },
          { type: "text", text: "Count the lines of a.py." }] },
      ] });
      return { stop_reason: m.stop_reason, usage: m.usage };
    }
    case "tools-call": {
      const m = await client.messages.create({ model, tools, max_tokens: 80, temperature: 0,
        messages: [{ role: "user", content: "Count the lines of a.py." }] });
      return { text: text(m), calls: calls(m), stop_reason: m.stop_reason };
    }
    case "tools-stream":
      return streamed({ model, tools, max_tokens: 80, temperature: 0,
        messages: [{ role: "user", content: "Count the lines of a.py." }] });
    case "bad-key": {
      const bad = new Anthropic({ baseURL: process.env.KATMESH_BASE_URL, apiKey: "wrong", maxRetries: 0 });
      try {
        await bad.messages.create({ model, max_tokens: 4, messages: ask });
        return { status: 200 };
      } catch (e) {
        return { status: e.status, type: e.error?.error?.type, message: e.message };
      }
    }
    case "bad-request": {
      try {
        await client.messages.create({ model, max_tokens: 4, messages: [
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_none", content: "x" }] }] });
        return { status: 200 };
      } catch (e) {
        return { status: e.status, type: e.error?.error?.type, message: e.error?.error?.message };
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
