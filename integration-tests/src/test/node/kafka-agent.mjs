// A deployed agent's Kafka client in another language (kafkajs, SASL/SCRAM-SHA-512), for SecureMeshIT.
//   node kafka-agent.mjs produce TOPIC KEY FILE   publish FILE as one JSON record (content-type: application/json)
// Credentials from KATMESH_KAFKA_AGENT (the path of the launcher's secrets/agent.json); KATMESH_KAFKA_PASSWORD
// overrides the password. Over TLS (security_protocol SASL_SSL) the client trusts the CA agent.json names, or the
// one in KATMESH_KAFKA_CA. Prints one JSON line: {"ok":true,...} or {"ok":false,"error":...,"type":...}.
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [op, topic, key, file] = process.argv.slice(2);
const agent = JSON.parse(readFileSync(process.env.KATMESH_KAFKA_AGENT, 'utf8'));
const kafka = new Kafka({
  clientId: 'katmesh-it-agent',
  brokers: [agent.bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { retries: 2, initialRetryTime: 200 },
  ssl: agent.security_protocol === 'SASL_SSL'
    ? { ca: [readFileSync(process.env.KATMESH_KAFKA_CA ?? agent.ca, 'utf8')] } : false,
  sasl: { mechanism: agent.sasl_mechanism.toLowerCase(), username: agent.username,
          password: process.env.KATMESH_KAFKA_PASSWORD ?? agent.password },
});

function failure(e) {
  let cause = e;
  while ((cause.cause ?? cause.originalError) && !cause.type) cause = cause.cause ?? cause.originalError;
  return { ok: false, error: e.name, type: cause.type ?? e.type ?? null, message: e.message };
}

async function produce() {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const meta = await producer.send({ topic, acks: -1, messages: [{ key, value: readFileSync(file),
      headers: { 'content-type': 'application/json' } }] });
    return { ok: true, partition: meta[0].partition, offset: meta[0].baseOffset };
  } finally {
    await producer.disconnect();
  }
}

try {
  if (op !== 'produce') throw new Error('usage: kafka-agent.mjs produce TOPIC KEY FILE');
  const result = await produce();
  console.log(JSON.stringify(result));
} catch (e) {
  console.log(JSON.stringify(failure(e)));
}
process.exit(0);
