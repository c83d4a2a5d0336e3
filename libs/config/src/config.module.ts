import { DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { AppConfig, Env, loadConfig } from './app-config';

/** What `ConfigService<AppConfig, true>` serves once loaded. */
export interface LoadedConfig {
  config: AppConfig;
  /** @nestjs/config's ConfigModule, global: inject `ConfigService<AppConfig, true>`, read `get('kafka', { infer: true })`. */
  module: DynamicModule;
}

export interface LoadOptions {
  /** Parsed instead of the process environment (tests); the process environment is then not read at all. */
  env?: Env;
  /** Laid over the environment: `npm run migrate` runs as the ingest role whatever BADGE_ROLES says. */
  overrides?: Env;
}

// @nestjs/config copies each top-level string, number and boolean that `validate` returns into process.env (when
// not already there). AppConfig's top level holds objects only, so nothing parsed (a secret read from a `_FILE`, say)
// ever lands there; this fails to compile if a primitive is added at the top level.
type ObjectsOnly<T> = { [K in keyof T]-?: T[K] extends object ? T[K] : never };
const _nothingCopiedToProcessEnv = (config: AppConfig): ObjectsOnly<AppConfig> => config;
void _nothingCopiedToProcessEnv;

function configModule(validate: (processEnv: Env) => AppConfig, readProcessEnv: boolean): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    // The environment is the configuration (README "Configuration"): no .env file from the working directory.
    ignoreEnvFile: true,
    validatePredefined: readProcessEnv,
    // get() answers from the parsed AppConfig only, never from a raw variable (unparsed, or a secret's plain text).
    skipProcessEnv: true,
    validate,
  });
}

/**
 * Configuration through @nestjs/config: its `validate` is loadConfig (the zod schema, `<NAME>_FILE` secrets and the
 * cross-variable rules), so a bad environment rejects with one ConfigError naming every bad variable, never a value.
 */
export class AppConfigModule {
  /**
   * Parses the process environment (which @nestjs/config reads and hands to `validate`) or `options.env`.
   * Resolves to the module and the config it serves: BADGE_ROLES decides which modules the graph has, and a failure
   * while Nest builds it must be reported without the database URL, so main needs the config first.
   */
  static async load(options: LoadOptions = {}): Promise<LoadedConfig> {
    let config: AppConfig | undefined;
    const module = await configModule((processEnv) => (config = loadConfig({ ...(options.env ?? processEnv), ...options.overrides })), options.env === undefined);
    return { config: config!, module };
  }

  /** Serves a config already parsed: `AppConfigModule.forRoot(loadConfig({ ... }))` in tests. */
  static forRoot(config: AppConfig): Promise<DynamicModule> {
    return configModule(() => config, false);
  }
}

/** A ConfigService over `config`, for unit specs that construct a consumer by hand. */
export function configServiceOf(config: AppConfig): ConfigService<AppConfig, true> {
  return new ConfigService<AppConfig, true>(config);
}
