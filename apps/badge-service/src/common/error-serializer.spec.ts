import { QueryFailedError } from 'typeorm';
import { errorSerializer } from './error-serializer';

const SECRET = 'app-ticket-4f1d9c0e7b2a';

/** A pg DatabaseError as node-pg builds it: message, code and the row-quoting fields. */
function driverError(): Error {
  return Object.assign(new Error('duplicate key value violates unique constraint "app_ticket_pkey"'), {
    severity: 'ERROR',
    code: '23505',
    detail: `Key (ticket)=(${SECRET}) already exists.`,
    where: `SQL statement "INSERT ... VALUES ('${SECRET}')"`,
    constraint: 'app_ticket_pkey',
    table: 'app_ticket',
  });
}

describe('errorSerializer', () => {
  it('drops the bound parameters and the row-quoting fields of a QueryFailedError, keeping what explains it', () => {
    const err = new QueryFailedError('INSERT INTO app_ticket (app_id, ticket) VALUES ($1, $2)', ['cli_x', SECRET], driverError());

    const out = errorSerializer(err) as Record<string, unknown>;

    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out).toMatchObject({
      type: 'QueryFailedError',
      message: 'duplicate key value violates unique constraint "app_ticket_pkey"',
      code: '23505',
      constraint: 'app_ticket_pkey',
      query: 'INSERT INTO app_ticket (app_id, ticket) VALUES ($1, $2)',
    });
    expect(out).not.toHaveProperty('parameters');
    expect(out['driverError']).toMatchObject({ code: '23505' });
  });

  it('redacts the password of a connection URL in a message or stack', () => {
    const err = new Error('could not connect to postgres://badges:s3cr3t-pw@db.internal:5432/badges?sslmode=verify-full');

    const text = JSON.stringify(errorSerializer(err));

    expect(text).not.toContain('s3cr3t-pw');
    expect(text).toContain('postgres://badges:[redacted]@db.internal:5432/badges');
  });

  it("drops a URL parse error's input", () => {
    let err: unknown;
    try {
      new URL('postgres://badges:s3cr3t-pw@db internal:5432/badges');
    } catch (e) {
      err = e;
    }
    expect((err as { input?: string }).input).toContain('s3cr3t-pw');

    expect(JSON.stringify(errorSerializer(err))).not.toContain('s3cr3t-pw');
  });

  it('leaves what is not an error as it is, URL passwords redacted', () => {
    expect(errorSerializer('connect ECONNREFUSED 127.0.0.1:5432')).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(errorSerializer('postgres://u:pw@h/db')).toBe('postgres://u:[redacted]@h/db');
  });
});
