/**
 * Label values that come from outside (a request's method, an upstream's errorCode) folded into
 * fixed sets: each distinct value is a series of its own in every Prometheus that scrapes us, so
 * a caller or an upstream must not be able to mint new ones. Routes and endpoints are already
 * bounded: they are the catalogue's, or `unmatched`. The sets are data given by the module that
 * knows them (the upstream's errorCodes: upstream/status-map.ts), so this module imports none.
 */

/**
 * A label function over a fixed set: a known value as itself, any other as `other`.
 *
 * @example
 * const errorCodeLabel = boundedLabel([0, 2, 99]);
 * errorCodeLabel(2)    // '2'
 * errorCodeLabel(4711) // 'other'
 */
export function boundedLabel<T extends string | number>(known: Iterable<T>): (value: T extends string ? string : number) => string {
  const set: ReadonlySet<string | number> = new Set<string | number>(known);
  return (value) => (set.has(value) ? String(value) : 'other');
}

/** The request method, or `other` for any method the service does not route. */
export const methodLabel: (method: string) => string = boundedLabel(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
