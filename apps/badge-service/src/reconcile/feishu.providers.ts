import { Logger, Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { Clock } from '../common/clock';
import {
  CustomAppTokenProvider,
  FeishuBadgeClient,
  FeishuLogger,
  FetchHttpTransport,
  StoreAppTokenProvider,
  TenantTokenProvider,
} from '@badges/feishu';

export const TENANT_TOKENS = Symbol('TENANT_TOKENS');

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
      const options = { baseUrl: config.feishu.baseUrl, appId: config.feishu.appId, appSecret: config.feishu.appSecret, timeoutMs: config.feishu.timeoutMs };
      return config.feishu.appType === 'store'
        ? new StoreAppTokenProvider(transport, options, undefined, logger())
        : new CustomAppTokenProvider(transport, options, undefined, logger());
    },
  },
  {
    provide: FeishuBadgeClient,
    // The loop's monotonic clock: a push's deadline is set in it and checked by the client.
    inject: [APP_CONFIG, FetchHttpTransport, TENANT_TOKENS, Clock],
    useFactory: (config: AppConfig, transport: FetchHttpTransport, tokens: TenantTokenProvider, clock: Clock) =>
      new FeishuBadgeClient(
        transport,
        tokens,
        { baseUrl: config.feishu.baseUrl, timeoutMs: config.feishu.timeoutMs },
        { now: () => clock.monotonic() },
        logger(),
      ),
  },
];
