import { InitialSchema1764115200000 } from './1764115200000-initial-schema';

/** In order. New migrations are appended, never edited once released. */
export const MIGRATIONS = [InitialSchema1764115200000];
