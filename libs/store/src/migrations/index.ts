import { InitialSchema1764115200000 } from './1764115200000-initial-schema';
import { ZeroSourceRetention1764201600000 } from './1764201600000-zero-source-retention';
import { DirtyByTenant1764288000000 } from './1764288000000-dirty-by-tenant';
import { CallbackEvents1764374400000 } from './1764374400000-callback-events';
import { AuditKindCheck1764460800000 } from './1764460800000-audit-kind-check';
import { AuditSeriesIndex1764547200000 } from './1764547200000-audit-series-index';
import { ServiceMode1764633600000 } from './1764633600000-service-mode';
import { PriorityLanes1764720000000 } from './1764720000000-priority-lanes';
import { SourceIndex1764806400000 } from './1764806400000-source-index';
import { StatusCounts1764979200000 } from './1764979200000-status-counts';
import { PushCounts1764979200001 } from './1764979200001-push-counts';
import { SharedBudget1765065600000 } from './1765065600000-shared-budget';

/** In order. New migrations are appended, never edited once released. */
export const MIGRATIONS = [
  InitialSchema1764115200000,
  ZeroSourceRetention1764201600000,
  DirtyByTenant1764288000000,
  CallbackEvents1764374400000,
  AuditKindCheck1764460800000,
  AuditSeriesIndex1764547200000,
  ServiceMode1764633600000,
  PriorityLanes1764720000000,
  SourceIndex1764806400000,
  StatusCounts1764979200000,
  PushCounts1764979200001,
  SharedBudget1765065600000,
];
