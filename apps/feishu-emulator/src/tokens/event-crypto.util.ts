import { createCipheriv, createHash } from 'node:crypto';

/** Feishu's event encryption: base64(iv + AES-256-CBC(key = sha256(encryptKey), PKCS#7)). */
export function encryptEvent(plaintext: string, encryptKey: string, iv: Buffer): string {
  const key = createHash('sha256').update(encryptKey).digest();
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

/** `X-Lark-Signature`: sha256 hex of timestamp + nonce + encryptKey + raw body. */
export function signEvent(timestamp: string, nonce: string, encryptKey: string, body: string): string {
  return createHash('sha256').update(timestamp + nonce + encryptKey + body).digest('hex');
}
