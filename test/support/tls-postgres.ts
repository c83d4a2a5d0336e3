import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface TlsPostgres {
  port: number;
  /** The CA that signed the server's certificate (SAN: IP 127.0.0.1, DNS localhost). */
  caFile: string;
  /** Another CA, which signed nothing the server presents. */
  otherCaFile: string;
  /** psql-free admin statements, as the cluster's superuser over the Unix socket. */
  sql(statement: string, database?: string): string;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/**
 * A throwaway Postgres 15 cluster on its own port with ssl=on, accepting only TLS over TCP (hostnossl is
 * rejected), with certificates made now by openssl. Listens on 127.0.0.1 and 127.0.0.2, a loopback address the
 * certificate does not name. The superuser `postgres` is trusted; other roles need their password (scram).
 */
export async function startTlsPostgres(): Promise<TlsPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'badges-tls-pg-'));
  const data = path.join(dir, 'data');
  const pki = path.join(dir, 'pki');
  execFileSync('mkdir', ['-p', pki]);
  const subj = (cn: string) => ['-subj', `/CN=${cn}`];
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', 'ca.key', '-out', 'ca.pem', ...subj('badges test CA')], pki);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', ...subj('another CA')], pki);
  writeFileSync(path.join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', ...subj('127.0.0.1')], pki);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem'], pki);

  execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  chmodSync(dir, 0o755);
  chmodSync(pki, 0o755);
  const asPostgres = (cmd: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, cmd), ...args], { stdio: 'pipe' }).toString();
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  writeFileSync(
    path.join(data, 'pg_hba.conf'),
    ['local all postgres trust', 'hostssl all postgres 127.0.0.1/32 trust', 'hostssl all postgres 127.0.0.2/32 trust', 'hostssl all all 127.0.0.0/8 scram-sha-256', 'host all all 0.0.0.0/0 reject', ''].join('\n'),
  );
  for (const f of ['server.pem', 'server.key']) execFileSync('cp', [path.join(pki, f), path.join(data, f)]);
  execFileSync('chown', ['postgres:postgres', ...['server.key', 'server.pem', 'pg_hba.conf'].map((f) => path.join(data, f))]);
  chmodSync(path.join(data, 'server.key'), 0o600);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server.key -c max_connections=40 -c fsync=off`;
  asPostgres('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
  return {
    port,
    caFile: path.join(pki, 'ca.pem'),
    otherCaFile: path.join(pki, 'other-ca.pem'),
    sql: (statement, database = 'postgres') =>
      execFileSync('runuser', ['-u', 'postgres', '--', '/usr/bin/psql', '-h', dir, '-p', String(port), '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atc', statement], { stdio: 'pipe' }).toString(),
    async stop() {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
