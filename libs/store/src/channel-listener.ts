import { Client } from 'pg';

/** How a LISTEN connection reports; each callback runs on the event loop and must not throw. */
export interface ChannelHandlers {
  /** A notification on the channel, with its payload. */
  notify(payload: string | undefined): void;
  /** LISTEN is in place, at the start and after each reconnection: notifications sent while disconnected are lost. */
  connected?(): void;
  /** The connection could not be made, or was lost; a new one is tried after `reconnectMs`. Only the message is given. */
  failed?(phase: 'connect' | 'lost', message: string, reconnectMs: number): void;
}

export interface ChannelSubscription {
  /** Stops listening; no callback runs after it resolves. */
  close(): Promise<void>;
}

export const RECONNECT_MS = 1000;

/**
 * How often the idle LISTEN connection proves it is alive, and how long an answer may take. A Postgres that stops
 * answering without closing the connection (a failover, a partition that drops packets) would otherwise leave it
 * open and silent for good: no error, no notification, the reconciler back on its poll until a restart.
 */
export interface HeartbeatOptions {
  readonly heartbeatMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** For connecting and LISTEN: a server that accepts the connection and then says nothing is not waited on for ever. */
  readonly connectTimeoutMs?: number;
}
export const HEARTBEAT_MS = 15_000;
export const HEARTBEAT_TIMEOUT_MS = 5_000;
/** As the pool's connectionTimeoutMillis. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** How long close() waits for the server to acknowledge the end of the connection. */
const CLOSE_MS = 1_000;

function destroy(c: Client): void {
  (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/** A Postgres identifier the channel is LISTENed under; anything else is refused, so no text reaches SQL unchecked. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * LISTENs on `channel` over a connection of its own (outside the pool: it stays open and idle), reconnecting
 * RECONNECT_MS after any failure, a heartbeat left unanswered included, until closed.
 */
export function listenOn(url: string, applicationName: string, channel: string, handlers: ChannelHandlers, options: HeartbeatOptions = {}): ChannelSubscription {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${JSON.stringify(channel)}`);
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  let closed = false;
  let client: Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let beat: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new Client({ connectionString: url, application_name: applicationName });
    client = c;
    let failed = false;
    // Once per connection: a failing connect can both emit 'error' and reject.
    const retry = (phase: 'connect' | 'lost', e: unknown) => {
      if (failed) return;
      failed = true;
      clearInterval(beat);
      c.removeAllListeners();
      c.on('error', () => undefined);
      void c.end().catch(() => undefined);
      if (closed) return;
      handlers.failed?.(phase, e instanceof Error ? e.message : String(e), RECONNECT_MS);
      timer = setTimeout(() => void connect(), RECONNECT_MS);
      timer.unref();
    };
    c.on('error', (e) => retry('lost', e));
    c.on('notification', (n) => {
      if (!closed && n.channel === channel) handlers.notify(n.payload);
    });
    /** Gives the connection up unless cleared within `ms`; end() would wait for a server that is not answering. */
    const giveUpAfter = (ms: number, phase: 'connect' | 'lost', what: string) => {
      const t = setTimeout(() => {
        retry(phase, new Error(`no answer to ${what} within ${ms} ms`));
        destroy(c);
      }, ms);
      t.unref();
      return t;
    };
    const unanswered = giveUpAfter(connectTimeoutMs, 'connect', 'connecting and LISTEN');
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      if (!closed) handlers.connected?.();
    } catch (e) {
      retry('connect', e);
      return;
    } finally {
      clearTimeout(unanswered);
    }
    if (failed || closed) return;
    beat = setInterval(() => {
      const unanswered = giveUpAfter(heartbeatTimeoutMs, 'lost', 'a heartbeat');
      c.query('SELECT 1').then(
        () => clearTimeout(unanswered),
        () => clearTimeout(unanswered), // an error also emits 'error' on the client: retried there
      );
    }, heartbeatMs);
    beat.unref();
  };

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(beat);
      if (client === undefined) return;
      // A server that stopped answering never acknowledges the end: the socket is closed after a moment anyway.
      let waited: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        client.end().then(() => true, () => true),
        new Promise<false>((resolve) => (waited = setTimeout(() => resolve(false), CLOSE_MS))),
      ]);
      clearTimeout(waited);
      if (!ended) destroy(client);
    },
  };
}
