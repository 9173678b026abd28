/**
 * Sunrise and sunset for scenario triggers such as "lights on at sunset − 15 min".
 *
 * Pure: every answer comes from the arguments (no clock, no timers), so a
 * trigger can be planned, replayed and tested deterministically.
 *
 * The sun's position follows the NOAA solar calculator
 * (https://gml.noaa.gov/grad/solcalc/, after Meeus, *Astronomical Algorithms*):
 * declination and equation of time from the Julian century, and the hour
 * angle at which the sun's centre is at the standard zenith of 90.833°
 * (34′ of refraction plus 16′ of solar semidiameter below the horizon, at sea
 * level, for a flat horizon). Each event is refined by evaluating the sun at
 * the event's own instant, which keeps it within about a minute of the NOAA
 * calculator between latitudes 72° S and 72° N (nearer the poles the sun
 * grazes the horizon and any model is only as good as the refraction).
 *
 * ## Which day
 *
 * A {@link Date} is an instant, a sunrise belongs to a local day. Here the day
 * is the **local solar day at the location's longitude for the UTC calendar
 * date of `day`**: the 24 hours centred on the solar noon nearest to
 * `YYYY-MM-DD 12:00 UTC − longitude / 15 h`. Only the UTC year, month and
 * date of `day` are read; its time of day is ignored. So
 * `sunTimes(new Date('2024-06-21'), sydney)` answers for Sydney's 21 June:
 * sunrise 2024-06-20T21:00Z (07:00 AEST on the 21st) and sunset
 * 2024-06-21T06:54Z (16:54 AEST); in Los Angeles the sunset of 21 June is
 * 2024-06-22T03:08Z (20:08 PDT on the 21st). Pass `Date.UTC(y, m - 1, d)` of
 * the local calendar date you mean. A time zone's date matches its solar
 * date except where the zone is far from its meridian (e.g. western China)
 * or across the date line, where they may differ by a day.
 *
 * @module
 */

import { ScenarioError } from '../errors.js';

/** Where the house is: degrees, north and east positive. */
export interface SunLocation {
  /** Degrees, −90 (south pole) to 90 (north pole). */
  readonly latitude: number;
  /** Degrees, −180 to 180, east of Greenwich positive. */
  readonly longitude: number;
}

/** The same as {@link SunLocation}, the name the engine's options use. */
export type Location = SunLocation;

/** Which crossing of the horizon. */
export type SunEvent = 'sunrise' | 'sunset';

/** The sunrise and sunset of one local solar day. */
export interface SunTimes {
  /** The instant the sun's upper limb appears, or `null` if it does not rise that day. */
  readonly sunrise: Date | null;
  /** The instant the sun's upper limb disappears, or `null` if it does not set that day. */
  readonly sunset: Date | null;
  /**
   * `'day'` when the sun stays up all day (midnight sun), `'night'` when it
   * stays down (polar night): both times are then `null`. `null` otherwise,
   * including the rare day near a polar circle when only one of the two
   * happens (the sun rises just after solar midnight and then stays up).
   */
  readonly polar: 'day' | 'night' | null;
}

/** Zenith angle of the sun's centre at sunrise and sunset, refraction included (degrees). */
export const SUN_ZENITH_DEGREES = 90.833;

/** How many days {@link nextSunEvent} looks ahead before giving up. */
export const SUN_SEARCH_DAYS = 370;

const MS_PER_DAY = 86_400_000;
const MS_PER_MINUTE = 60_000;
/** Julian day of 1970-01-01T00:00Z. */
const JD_UNIX_EPOCH = 2_440_587.5;
/** Julian day of J2000.0. */
const JD_J2000 = 2_451_545;

/**
 * The sunrise and sunset of the local solar day that `day`'s UTC calendar date
 * names at `location` (see the module notes on which day that is).
 *
 * Times are rounded to the second; the model is good to about a minute.
 *
 * @param day - only its UTC year, month and date are read
 * @param location - latitude and longitude in degrees, north and east positive
 * @throws ScenarioError `ERR_SCENARIO_INVALID` if `day` is an invalid date or the location out of range
 */
export function sunTimes(day: Date, location: SunLocation): SunTimes {
  const midnight = utcMidnight(checkDate(day, 'day'));
  const { latitude, longitude } = checkLocation(location);
  return timesOfDay(midnight, latitude, longitude);
}

/**
 * The first instant strictly after `after` that is a sunrise (or sunset) plus
 * `offsetMinutes`, e.g. `nextSunEvent('sunset', now, home, -15)` for "15 min
 * before sunset". Days with no such event (polar day or night) are skipped.
 *
 * The result is an instant (UTC), so daylight-saving changes do not matter.
 * To follow a trigger, call again with the instant it fired: being strictly
 * after, the answer is the next day's.
 *
 * @param event - `'sunrise'` or `'sunset'`
 * @param after - the search starts just after this instant
 * @param location - latitude and longitude in degrees, north and east positive
 * @param offsetMinutes - added to the event; negative is before it (may be fractional)
 * @returns the instant, or `null` if none comes within {@link SUN_SEARCH_DAYS}
 *   days, which happens only at (or within a hair of) a pole, where the sun's
 *   crossing of the horizon is a matter of hours in the year
 * @throws ScenarioError `ERR_SCENARIO_INVALID` for an unknown event, an
 *   invalid date, a location out of range or a non-finite offset
 */
export function nextSunEvent(event: SunEvent, after: Date, location: SunLocation, offsetMinutes = 0): Date | null {
  if (event !== 'sunrise' && event !== 'sunset') {
    throw invalid(`event must be "sunrise" or "sunset", got ${show(event)}`);
  }
  const afterMs = checkDate(after, 'after').getTime();
  const { latitude, longitude } = checkLocation(location);
  if (typeof offsetMinutes !== 'number' || !Number.isFinite(offsetMinutes)) {
    throw invalid(`offsetMinutes must be a finite number, got ${show(offsetMinutes)}`);
  }
  const offsetMs = Math.round(offsetMinutes * MS_PER_MINUTE);
  // The event we want is after `after − offset`. A solar day's sunrise can fall
  // on the previous UTC date (east of Greenwich) and its sunset on the next
  // (west of it), so start two dates early; consecutive days' events are about
  // 24 h apart, so the first one found is the earliest.
  const start = utcMidnight(new Date(afterMs - offsetMs)) - 2 * MS_PER_DAY;
  for (let i = 0; i <= SUN_SEARCH_DAYS + 2; i++) {
    const times = timesOfDay(start + i * MS_PER_DAY, latitude, longitude);
    const at = times[event];
    if (at !== null && at.getTime() + offsetMs > afterMs) return new Date(at.getTime() + offsetMs);
  }
  return null;
}

/**
 * Checks a configured location and returns a clean copy.
 *
 * @param value - expected `{ latitude, longitude }` in degrees, nothing else
 * @param where - how the value is named in messages
 * @throws ScenarioError `ERR_SCENARIO_INVALID`, e.g.
 *   "location.latitude must be a number between -90 and 90, got 91"
 */
export function validateLocation(value: unknown, where = 'location'): SunLocation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} must be an object { latitude, longitude } in degrees, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'latitude' && key !== 'longitude') {
      throw invalid(`${where} has an unknown field "${key}" (expected latitude and longitude)`);
    }
  }
  const v = value as { latitude?: unknown; longitude?: unknown };
  return {
    latitude: degrees(v.latitude, `${where}.latitude`, 90),
    longitude: degrees(v.longitude, `${where}.longitude`, 180),
  };
}

// ---------------------------------------------------------------------------

function degrees(value: unknown, where: string, limit: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < -limit || value > limit) {
    throw invalid(`${where} must be a number between -${limit} and ${limit}, got ${show(value)}`);
  }
  return value;
}

function checkLocation(location: SunLocation): SunLocation {
  if (typeof location !== 'object' || location === null) {
    throw invalid(`location must be an object { latitude, longitude } in degrees, got ${show(location)}`);
  }
  return {
    latitude: degrees(location.latitude, 'location.latitude', 90),
    longitude: degrees(location.longitude, 'location.longitude', 180),
  };
}

function checkDate(value: Date, where: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalid(`${where} must be a valid Date, got ${show(value)}`);
  }
  return value;
}

/** Epoch milliseconds of 00:00 UTC of `date`'s UTC calendar date. */
function utcMidnight(date: Date): number {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}

function timesOfDay(midnightMs: number, latitude: number, longitude: number): SunTimes {
  const jd0 = midnightMs / MS_PER_DAY + JD_UNIX_EPOCH;
  const rise = eventMinutes(jd0, latitude, longitude, -1);
  const set = eventMinutes(jd0, latitude, longitude, 1);
  const sunrise = typeof rise === 'number' ? instant(midnightMs, rise) : null;
  const sunset = typeof set === 'number' ? instant(midnightMs, set) : null;
  let polar: SunTimes['polar'] = null;
  if (sunrise === null && sunset === null) {
    if (rise === set) polar = rise as 'day' | 'night';
    else {
      // The two disagree only at a knife edge: decide by the sun at solar noon.
      const noon = solarNoonMinutes(jd0, longitude);
      polar = cosHourAngle(latitude, sunAt(jd0 + noon / 1440).declination) > 0 ? 'night' : 'day';
    }
  }
  return { sunrise, sunset, polar };
}

function instant(midnightMs: number, minutes: number): Date {
  return new Date(Math.round((midnightMs + minutes * MS_PER_MINUTE) / 1000) * 1000);
}

/** Minutes after `jd0` (00:00 UTC) of the apparent solar noon at `longitude`. */
function solarNoonMinutes(jd0: number, longitude: number): number {
  let t = 720 - 4 * longitude;
  for (let i = 0; i < 2; i++) t = 720 - 4 * longitude - sunAt(jd0 + t / 1440).equationOfTime;
  return t;
}

/**
 * Minutes after `jd0` (00:00 UTC) of the sunrise (`side` −1) or sunset (+1)
 * of the solar day around that date's solar noon, or which polar case stops it.
 */
function eventMinutes(jd0: number, latitude: number, longitude: number, side: -1 | 1): number | 'day' | 'night' {
  let t = solarNoonMinutes(jd0, longitude);
  for (let i = 0; i < 6; i++) {
    const sun = sunAt(jd0 + t / 1440);
    const cosH = cosHourAngle(latitude, sun.declination);
    if (cosH > 1) return 'night';
    if (cosH < -1) return 'day';
    const hourAngle = toDegrees(Math.acos(cosH));
    const next = 720 - 4 * (longitude - side * hourAngle) - sun.equationOfTime;
    const done = Math.abs(next - t) < 0.01;
    t = next;
    if (done) break;
  }
  return t;
}

/** Cosine of the hour angle at which the sun's centre is at {@link SUN_ZENITH_DEGREES}. */
function cosHourAngle(latitude: number, declination: number): number {
  const phi = toRadians(latitude);
  const delta = toRadians(declination);
  return (Math.cos(toRadians(SUN_ZENITH_DEGREES)) - Math.sin(phi) * Math.sin(delta)) / (Math.cos(phi) * Math.cos(delta));
}

/**
 * NOAA's solar declination (degrees) and equation of time (minutes) at a
 * Julian day (UT; the ~1 min of ΔT is below this model's accuracy).
 */
function sunAt(jd: number): { declination: number; equationOfTime: number } {
  const t = (jd - JD_J2000) / 36_525;
  const l0 = mod360(280.46646 + t * (36_000.76983 + t * 0.0003032)); // geometric mean longitude
  const m = 357.52911 + t * (35_999.05029 - 0.0001537 * t); // mean anomaly
  const e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t); // eccentricity of Earth's orbit
  const mr = toRadians(m);
  const center =
    Math.sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t)) + Math.sin(2 * mr) * (0.019993 - 0.000101 * t) + Math.sin(3 * mr) * 0.000289;
  const trueLongitude = l0 + center;
  const omega = toRadians(125.04 - 1934.136 * t);
  const apparentLongitude = trueLongitude - 0.00569 - 0.00478 * Math.sin(omega);
  const meanObliquity = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60;
  const obliquity = toRadians(meanObliquity + 0.00256 * Math.cos(omega));
  const declination = toDegrees(Math.asin(Math.sin(obliquity) * Math.sin(toRadians(apparentLongitude))));
  const y = Math.tan(obliquity / 2) ** 2;
  const l0r = toRadians(l0);
  const eqTime =
    y * Math.sin(2 * l0r) -
    2 * e * Math.sin(mr) +
    4 * e * y * Math.sin(mr) * Math.cos(2 * l0r) -
    0.5 * y * y * Math.sin(4 * l0r) -
    1.25 * e * e * Math.sin(2 * mr);
  return { declination, equationOfTime: 4 * toDegrees(eqTime) };
}

function mod360(x: number): number {
  return ((x % 360) + 360) % 360;
}

function toRadians(deg: number): number {
  return (deg * Math.PI) / 180;
}

function toDegrees(rad: number): number {
  return (rad * 180) / Math.PI;
}

function invalid(message: string): ScenarioError {
  return new ScenarioError('ERR_SCENARIO_INVALID', message);
}

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
