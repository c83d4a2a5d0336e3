import { Logger, Provider } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { Clock } from '../common/clock';
import {
  BadgeSender,
  CustomAppTokenProvider,
  FeishuAuthError,
  FeishuBadgeClient,
  FeishuLogger,
  NodeHttpTransport,
  ShadowBadgeSender,
  StoreAppTokenProvider,
  TenantTokenProvider,
} from '@badges/feishu';

export const TENANT_TOKENS = Symbol('TENANT_TOKENS');

/** Shadow mode asks Feishu for nothing, not even a token: a token wanted anyway is a bug, and says so. */
const SHADOW_TOKENS: TenantTokenProvider = {
  getToken: async () => {
    throw new FeishuAuthError({ reason: 'rejected', endpoint: '(none: shadow mode)', code: null, msg: 'FEISHU_MODE=shadow: no token is ever requested', logId: null, httpStatus: null });
  },
  invalidate: () => undefined,
};

const logger = (): FeishuLogger => {
  const log = new Logger('Feishu');
  return { debug: (fields, msg) => log.debug(fields, msg), warn: (fields, msg) => log.warn(fields, msg) };
};

export const feishuProviders: Provider[] = [
  {
    provide: NodeHttpTransport,
    inject: [ConfigService],
    useFactory: (config: ConfigService<AppConfig, true>) => new NodeHttpTransport({ maxResponseBytes: config.get('hardening', { infer: true }).feishu.maxResponseBytes }),
  },
  {
    provide: TENANT_TOKENS,
    inject: [ConfigService, NodeHttpTransport],
    useFactory: (config: ConfigService<AppConfig, true>, transport: NodeHttpTransport): TenantTokenProvider => {
      const feishu = config.get('feishu', { infer: true });
      if (feishu.mode === 'shadow') return SHADOW_TOKENS;
      const options = { baseUrl: feishu.baseUrl, appId: feishu.appId, appSecret: feishu.appSecret, timeoutMs: feishu.timeoutMs };
      return feishu.appType === 'store'
        ? new StoreAppTokenProvider(transport, options, undefined, logger())
        : new CustomAppTokenProvider(transport, options, undefined, logger());
    },
  },
  {
    provide: BadgeSender,
    // The loop's monotonic clock: a push's deadline is set in it and checked by the client.
    inject: [ConfigService, NodeHttpTransport, TENANT_TOKENS, Clock],
    useFactory: (config: ConfigService<AppConfig, true>, transport: NodeHttpTransport, tokens: TenantTokenProvider, clock: Clock): BadgeSender =>
      config.get('feishu', { infer: true }).mode === 'shadow'
        ? new ShadowBadgeSender()
        : new FeishuBadgeClient(
        transport,
        tokens,
        { baseUrl: config.get('feishu', { infer: true }).baseUrl, timeoutMs: config.get('feishu', { infer: true }).timeoutMs },
        { now: () => clock.monotonic() },
        logger(),
      ),
  },
];
