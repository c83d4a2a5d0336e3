import { Logger, Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { Clock } from '../common/clock';
import {
  BadgeSender,
  CustomAppTokenProvider,
  FeishuAuthError,
  FeishuBadgeClient,
  FeishuLogger,
  FetchHttpTransport,
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
    provide: FetchHttpTransport,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) => new FetchHttpTransport(undefined, { maxResponseBytes: config.hardening.feishu.maxResponseBytes }),
  },
  {
    provide: TENANT_TOKENS,
    inject: [APP_CONFIG, FetchHttpTransport],
    useFactory: (config: AppConfig, transport: FetchHttpTransport): TenantTokenProvider => {
      if (config.feishu.mode === 'shadow') return SHADOW_TOKENS;
      const options = { baseUrl: config.feishu.baseUrl, appId: config.feishu.appId, appSecret: config.feishu.appSecret, timeoutMs: config.feishu.timeoutMs };
      return config.feishu.appType === 'store'
        ? new StoreAppTokenProvider(transport, options, undefined, logger())
        : new CustomAppTokenProvider(transport, options, undefined, logger());
    },
  },
  {
    provide: BadgeSender,
    // The loop's monotonic clock: a push's deadline is set in it and checked by the client.
    inject: [APP_CONFIG, FetchHttpTransport, TENANT_TOKENS, Clock],
    useFactory: (config: AppConfig, transport: FetchHttpTransport, tokens: TenantTokenProvider, clock: Clock): BadgeSender =>
      config.feishu.mode === 'shadow'
        ? new ShadowBadgeSender()
        : new FeishuBadgeClient(
        transport,
        tokens,
        { baseUrl: config.feishu.baseUrl, timeoutMs: config.feishu.timeoutMs },
        { now: () => clock.monotonic() },
        logger(),
      ),
  },
];
