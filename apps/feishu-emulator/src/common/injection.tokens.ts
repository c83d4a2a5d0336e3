export const EMULATOR_CONFIG = Symbol('EMULATOR_CONFIG');
export const EMULATOR_LOGGER = Symbol('EMULATOR_LOGGER');
