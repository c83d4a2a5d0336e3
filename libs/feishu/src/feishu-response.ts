import { FEISHU_HEADER } from './feishu.constants';
import type { HttpHeaders } from './http.transport';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Case-insensitive header lookup; a repeated header joined by fetch as "a, b" yields "a". */
export function headerValue(headers: HttpHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    const value = headers[key];
    if (typeof value === 'string') return value.split(',')[0]?.trim();
  }
  return undefined;
}

/** Feishu's envelope code, when the body has one that is an integer. */
export function envelopeCode(json: unknown): number | null {
  if (!isRecord(json)) return null;
  const code = json['code'];
  return typeof code === 'number' && Number.isSafeInteger(code) ? code : null;
}

export function envelopeMsg(json: unknown): string | undefined {
  if (!isRecord(json)) return undefined;
  const msg = json['msg'];
  if (typeof msg === 'string' && msg !== '') return msg;
  const error = json['error'];
  if (isRecord(error) && typeof error['message'] === 'string') return error['message'];
  return undefined;
}

/** `x-tt-logid` identifies the request for Feishu support; newer errors also carry `error.log_id`. */
export function extractLogId(headers: HttpHeaders, json: unknown): string | null {
  const header = headerValue(headers, FEISHU_HEADER.LOG_ID);
  if (header) return header;
  if (isRecord(json)) {
    const error = json['error'];
    if (isRecord(error) && typeof error['log_id'] === 'string' && error['log_id'] !== '') return error['log_id'];
  }
  return null;
}

export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}
