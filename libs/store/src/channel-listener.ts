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

/** A Postgres identifier the channel is LISTENed under; anything else is refused, so no text reaches SQL unchecked. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * LISTENs on `channel` over a connection of its own (outside the pool: it stays open and idle), reconnecting
 * RECONNECT_MS after any failure until closed.
 */
export function listenOn(url: string, applicationName: string, channel: string, handlers: ChannelHandlers): ChannelSubscription {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${JSON.stringify(channel)}`);
  let closed = false;
  let client: Client | undefined;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new Client({ connectionString: url, application_name: applicationName });
    client = c;
    let failed = false;
    // Once per connection: a failing connect can both emit 'error' and reject.
    const retry = (phase: 'connect' | 'lost', e: unknown) => {
      if (failed) return;
      failed = true;
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
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      if (!closed) handlers.connected?.();
    } catch (e) {
      retry('connect', e);
    }
  };

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await client?.end().catch(() => undefined);
    },
  };
}
