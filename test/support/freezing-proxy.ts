import net from 'node:net';

/**
 * A TCP proxy to the real Postgres whose connections can be frozen: bytes stop flowing both ways and nothing is
 * closed, as when a failover or a partition drops packets instead of refusing them. Connections opened after the
 * freeze pass (the new primary).
 */
export interface FreezingProxy {
  /** The database URL given, through the proxy. */
  url: string;
  /** Stops every connection open now, both ways, closing none. */
  freeze(): void;
  close(): Promise<void>;
}

export async function freezingProxy(databaseUrl: string): Promise<FreezingProxy> {
  const target = new URL(databaseUrl);
  const pairs: { client: net.Socket; server: net.Socket }[] = [];
  const frozen: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const server = net.connect(Number(target.port || 5432), target.hostname);
    client.pipe(server).pipe(client);
    const drop = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', drop);
    server.on('error', drop);
    pairs.push({ client, server });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = new URL(databaseUrl);
  url.port = String((proxy.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    freeze() {
      for (const { client, server } of pairs.splice(0)) {
        client.unpipe(server);
        server.unpipe(client);
        client.pause();
        server.pause();
        frozen.push(client, server);
      }
    },
    async close() {
      for (const s of [...frozen, ...pairs.flatMap((p) => [p.client, p.server])]) s.destroy();
      await new Promise((r) => proxy.close(r));
    },
  };
}
