export interface FieldViolation {
  field: string;
  description: string;
}

export interface FeishuErrorOptions {
  headers?: Record<string, string>;
  fieldViolations?: FieldViolation[];
}

/** An answer with a non-zero Feishu `code`; the exception filter writes it. */
export class FeishuError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly msg: string,
    readonly options: FeishuErrorOptions = {},
  ) {
    super(msg);
    this.name = 'FeishuError';
  }
}

/** The request was hung or its connection dropped on purpose: nothing may be written. */
export class ConnectionAbandoned extends Error {
  constructor(readonly reason: 'hung' | 'dropped') {
    super(`connection ${reason}`);
    this.name = 'ConnectionAbandoned';
  }
}

/** A malformed admin request (the /_emulator endpoints answer in their own plain shape). */
export class AdminRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: string[] = [],
  ) {
    super(message);
    this.name = 'AdminRequestError';
  }
}
