#!/usr/bin/env node
// Readiness check for the local Kafka broker (used by scripts/kafka.sh start).
//
// READY means, in order:
//   1. the broker port accepts a TCP connection,
//   2. an admin client connects and lists topics,
//   3. a produce/consume round trip through a throwaway topic and a throwaway consumer group
//      succeeds, with an explicit offset commit (this creates __consumer_offsets).
// The throwaway topic and group are deleted afterwards (best effort).
//
// Environment:
//   KAFKA_BROKERS           comma-separated broker list, default 127.0.0.1:9092 (use 127.0.0.1, not localhost)
//   KAFKA_READY_TIMEOUT_MS  overall deadline for all attempts, default 60000
//   KAFKA_READY_QUIET=1     print nothing on success
// Exit code 0 when ready, 1 when the deadline passed (the last error is printed to stderr).

import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repoRoot, 'package.json'));
const { Kafka, logLevel } = require('kafkajs');

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const overallTimeoutMs = Number(process.env.KAFKA_READY_TIMEOUT_MS || 60_000);
const quiet = process.env.KAFKA_READY_QUIET === '1';
const deadline = Date.now() + overallTimeoutMs;

const remaining = () => Math.max(0, deadline - Date.now());
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with a labelled error; always clears its timer. */
async function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tcpProbe(hostPort, ms) {
  const idx = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, idx);
  const port = Number(hostPort.slice(idx + 1));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(ms, () => fail(new Error(`tcp ${hostPort}: no answer within ${ms} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

async function attempt(n) {
  const stepMs = Math.max(1_000, Math.min(30_000, remaining()));
  await tcpProbe(brokers[0], Math.min(stepMs, 3_000));

  const kafka = new Kafka({
    clientId: `kafka-ready-${process.pid}`,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const suffix = `${Date.now()}-${process.pid}-${n}-${randomBytes(3).toString('hex')}`;
  const topic = `kafka-ready-${suffix}`;
  const groupId = `kafka-ready-${suffix}`;
  let consumer;
  let topicCreated = false;

  try {
    await withTimeout(admin.connect(), stepMs, 'admin connect');
    await withTimeout(admin.listTopics(), stepMs, 'list topics');

    topicCreated = true; // set first: a create that times out may still have happened
    await withTimeout(
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: stepMs,
      }),
      stepMs + 2_000,
      'create topic',
    );

    const value = `ready-${suffix}`;
    await withTimeout(producer.connect(), stepMs, 'producer connect');
    await withTimeout(
      producer.send({ topic, acks: -1, messages: [{ key: 'ready', value }] }),
      stepMs,
      'produce',
    );

    consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 250, // short fetch long-poll so disconnect does not wait ~5 s for it
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    let crashed;
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts the consumer itself after a retriable crash; only a final one fails this attempt.
      if (!e.payload?.restart) crashed = e.payload?.error ?? new Error('consumer crashed');
    });
    await withTimeout(consumer.connect(), stepMs, 'consumer connect');
    await withTimeout(consumer.subscribe({ topics: [topic], fromBeginning: true }), stepMs, 'subscribe');

    let received;
    const got = new Promise((resolve) => {
      received = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (message.value?.toString() === value) {
          received({ partition, offset: message.offset });
        }
      },
    });

    const roundTripMs = Math.max(5_000, Math.min(45_000, remaining()));
    const roundTripDeadline = Date.now() + roundTripMs;
    let hit;
    // Poll for the message (or a crash) until the deadline; no fixed sleeps beyond the poll tick.
    while (!hit) {
      if (crashed) throw crashed;
      if (Date.now() > roundTripDeadline) throw new Error(`consume: no message within ${roundTripMs} ms`);
      hit = await Promise.race([got, delay(100).then(() => undefined)]);
    }
    // Explicit commit: this is what needs (and creates) __consumer_offsets.
    await withTimeout(
      consumer.commitOffsets([
        { topic, partition: hit.partition, offset: (BigInt(hit.offset) + 1n).toString() },
      ]),
      stepMs,
      'commit offsets',
    );
  } finally {
    await Promise.allSettled([
      consumer ? withTimeout(consumer.disconnect(), 10_000, 'consumer disconnect') : undefined,
      withTimeout(producer.disconnect(), 5_000, 'producer disconnect'),
    ]);
    if (consumer) {
      await withTimeout(admin.deleteGroups([groupId]), 5_000, 'delete group').catch(() => undefined);
    }
    if (topicCreated) {
      await withTimeout(admin.deleteTopics({ topics: [topic], timeout: 5_000 }), 8_000, 'delete topic').catch(
        () => undefined,
      );
    }
    await withTimeout(admin.disconnect(), 5_000, 'admin disconnect').catch(() => undefined);
  }
}

async function main() {
  const started = Date.now();
  let lastError;
  for (let n = 1; remaining() > 0; n++) {
    try {
      await attempt(n);
      if (!quiet) {
        console.log(`kafka-ready: ${brokers.join(',')} is ready (attempt ${n}, ${Date.now() - started} ms)`);
      }
      return 0;
    } catch (err) {
      lastError = err;
      if (remaining() <= 0) break;
      await delay(Math.min(500 * n, 2_000, remaining()));
    }
  }
  console.error(
    `kafka-ready: ${brokers.join(',')} not ready within ${overallTimeoutMs} ms: ${lastError?.message ?? lastError}`,
  );
  return 1;
}

process.exitCode = await main();
// kafkajs may leave timers behind after a failed attempt; do not let them keep the process alive.
setTimeout(() => process.exit(process.exitCode), 200).unref();
