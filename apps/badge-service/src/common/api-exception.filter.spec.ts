import { ArgumentsHost, BadRequestException, HttpException, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { ApiExceptionFilter } from './api-exception.filter';

function host(headers: Record<string, string> = {}) {
  const sent: { status?: number; body?: unknown; headers: Record<string, unknown> } = { headers: {} };
  const res = {
    headersSent: false,
    getHeader: (k: string) => sent.headers[k],
    setHeader: (k: string, v: unknown) => (sent.headers[k] = v),
    status(s: number) {
      sent.status = s;
      return this;
    },
    json(b: unknown) {
      sent.body = b;
    },
  };
  const req = { headers, method: 'GET', path: '/v1/x' };
  const h = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ArgumentsHost;
  return { h, sent };
}

describe('ApiExceptionFilter', () => {
  const sut = new ApiExceptionFilter();
  let logged: unknown[][];
  beforeEach(() => {
    logged = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
  });
  afterEach(() => jest.restoreAllMocks());

  it('gives a 400 its reasons as a list, with the caller correlation id in body and header', () => {
    const { h, sent } = host({ 'x-request-id': 'req-123' });
    sut.catch(new BadRequestException(['limit must not be less than 1', 'property foo should not exist']), h);
    expect(sent.status).toBe(400);
    expect(sent.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['limit must not be less than 1', 'property foo should not exist'],
      correlationId: 'req-123',
    });
    expect(sent.headers['x-request-id']).toBe('req-123');
    expect(logged).toEqual([]);
  });

  it('wraps a single 400 reason in a list', () => {
    const { h, sent } = host();
    sut.catch(new BadRequestException('invalid cursor'), h);
    expect((sent.body as { message: unknown }).message).toEqual(['invalid cursor']);
  });

  it('keeps a 404 reason and generates an id when the incoming one is not sane', () => {
    const { h, sent } = host({ 'x-request-id': 'x'.repeat(65) });
    sut.catch(new NotFoundException('unknown user'), h);
    const body = sent.body as { correlationId: string; message: string };
    expect(body.message).toBe('unknown user');
    expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.headers['x-request-id']).toBe(body.correlationId);
  });

  it('hides the cause of a 500 from the client and logs it under the correlation id', () => {
    const { h, sent } = host({ 'x-request-id': 'abc' });
    const cause = new Error('connection to 10.0.0.7 refused (password=hunter2)');
    sut.catch(cause, h);
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'internal error', correlationId: 'abc' });
    expect(JSON.stringify(sent.body)).not.toContain('hunter2');
    expect(logged).toHaveLength(1);
    expect(logged[0][0]).toMatchObject({ err: cause, correlationId: 'abc', statusCode: 500 });
  });

  it('logs a 5xx HttpException too, and answers with its status', () => {
    const { h, sent } = host();
    sut.catch(new ServiceUnavailableException('database down'), h);
    expect(sent.status).toBe(503);
    expect(logged).toHaveLength(1);
  });

  it('passes an odd HttpException status through', () => {
    const { h, sent } = host();
    sut.catch(new HttpException({ message: 'slow down' }, 429), h);
    expect(sent.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests', message: 'slow down' });
  });
});
