export * from './badge-event';
export * from './decode-event';
export * from './fold';
export * from './storable-text';
