/** Dates in the viewer's time zone and numbers in the viewer's locale. */

let viewerTimeZone: string | undefined;

/** Use the signed-in user's profile time zone (else the browser's). */
export function setViewerTimeZone(zone: string | undefined): void {
  viewerTimeZone = zone;
}

export function timeZone(): string {
  return viewerTimeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: timeZone() }).format(date);
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: timeZone() }).format(date);
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
}

/** Today's date (YYYY-MM-DD) in a time zone. */
export function localDay(zone: string, at: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}
