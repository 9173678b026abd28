import { isScenarioError } from '../errors.js';
import { SUN_ZENITH_DEGREES, nextSunEvent, sunTimes, validateLocation, type SunLocation } from './sun.js';

// Reference values. Unless said otherwise they were computed with PyEphem
// 4.1.4 (Debian's python3-ephem; libastro, a full VSOP87 model independent of
// NOAA's), with the same definition as NOAA's 90.833° zenith: the sun's centre
// 50′ below a flat sea-level horizon (observer.horizon = '-0:50',
// use_center=True, pressure = 0 so that no second refraction is added), for
// the local solar day (previous rising and next setting seen from local solar
// noon). The Paris, Sydney and Tromsø values agree with those given for the
// NOAA Solar Calculator in the task (Paris 03:47/19:58 UTC on 2024-06-21,
// 07:41/15:56 UTC on 2024-12-21, Sydney 07:00 AEST on 2024-06-21, Tromsø
// midnight sun and polar night) and with published local sunrise tables
// (Paris 05:47/21:58 CEST and 08:41/16:56 CET, Tokyo 04:26/19:00 JST,
// Los Angeles 05:42/20:08 PDT). Across 3,000 random places between 72° S and
// 72° N and dates 2000–2050, this module stayed within 0.3 min of PyEphem.

const TOLERANCE_MINUTES = 2;

const paris: SunLocation = { latitude: 48.8566, longitude: 2.3522 };
const sydney: SunLocation = { latitude: -33.8688, longitude: 151.2093 };
const tokyo: SunLocation = { latitude: 35.6762, longitude: 139.6503 };
const losAngeles: SunLocation = { latitude: 34.0522, longitude: -118.2437 };
const reykjavik: SunLocation = { latitude: 64.1466, longitude: -21.9426 };
const auckland: SunLocation = { latitude: -36.8485, longitude: 174.7633 };
const tromso: SunLocation = { latitude: 69.6492, longitude: 18.9553 };
const nullIsland: SunLocation = { latitude: 0, longitude: 0 };

function utc(iso: string): Date {
  return new Date(iso.endsWith('Z') || iso.length === 10 ? iso : `${iso}Z`);
}

function expectNear(actual: Date | null, expectedIso: string, minutes = TOLERANCE_MINUTES): void {
  expect(actual).toBeInstanceOf(Date);
  const diff = Math.abs((actual as Date).getTime() - utc(expectedIso).getTime()) / 60_000;
  if (diff > minutes) {
    throw new Error(`expected ${(actual as Date).toISOString()} within ${minutes} min of ${utc(expectedIso).toISOString()}, off by ${diff.toFixed(2)} min`);
  }
}

function expectInvalid(run: () => unknown, message: RegExp | string): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(isScenarioError(error, 'ERR_SCENARIO_INVALID')).toBe(true);
  expect((error as Error).message).toMatch(message);
}

describe('sunTimes', () => {
  test.each<[string, SunLocation, string, string, string]>([
    ['Paris, summer solstice', paris, '2024-06-21', '2024-06-21T03:47:03', '2024-06-21T19:57:57'],
    ['Paris, winter solstice', paris, '2024-12-21', '2024-12-21T07:41:30', '2024-12-21T15:56:16'],
    ['Paris, day before summer time starts', paris, '2024-03-30', '2024-03-30T05:31:42', '2024-03-30T18:19:02'],
    ['Paris, summer time starts', paris, '2024-03-31', '2024-03-31T05:29:36', '2024-03-31T18:20:32'],
    ['Paris, summer time ends', paris, '2024-10-27', '2024-10-27T06:30:10', '2024-10-27T16:37:56'],
    // East of Greenwich the local morning is the previous UTC date.
    ['Sydney, 21 June local (07:00 / 16:54 AEST)', sydney, '2024-06-21', '2024-06-20T21:00:04', '2024-06-21T06:53:55'],
    ['Tokyo, 21 June local (04:26 / 19:00 JST)', tokyo, '2024-06-21', '2024-06-20T19:25:55', '2024-06-21T10:00:33'],
    ['Auckland, 21 December local (05:58 NZDT)', auckland, '2024-12-21', '2024-12-20T16:58:13', '2024-12-21T07:39:47'],
    // West of Greenwich the local evening is the next UTC date.
    ['Los Angeles, 21 June local (05:42 / 20:08 PDT)', losAngeles, '2024-06-21', '2024-06-21T12:42:10', '2024-06-22T03:07:45'],
    ['Reykjavik, sunset after UTC midnight', reykjavik, '2024-06-21', '2024-06-21T02:55:18', '2024-06-22T00:04:00'],
    ['Tromsø, March equinox', tromso, '2024-03-20', '2024-03-20T04:41:44', '2024-03-20T17:03:28'],
    ['Tromsø, last day before polar night', tromso, '2024-11-26', '2024-11-26T10:05:58', '2024-11-26T10:56:29'],
    ['the equator at Greenwich, March equinox', nullIsland, '2024-03-20', '2024-03-20T06:04:04', '2024-03-20T18:10:33'],
    ['the equator at Greenwich, September equinox', nullIsland, '2024-09-22', '2024-09-22T05:49:18', '2024-09-22T17:55:46'],
  ])('%s', (_name, location, date, sunrise, sunset) => {
    const times = sunTimes(utc(date), location);
    expectNear(times.sunrise, sunrise);
    expectNear(times.sunset, sunset);
    expect(times.polar).toBeNull();
  });

  test('times are whole seconds', () => {
    const { sunrise, sunset } = sunTimes(utc('2024-06-21'), paris);
    expect((sunrise as Date).getTime() % 1000).toBe(0);
    expect((sunset as Date).getTime() % 1000).toBe(0);
  });

  test('only the UTC calendar date of the argument counts, not its time of day', () => {
    const midnight = sunTimes(utc('2024-06-21T00:00:00'), sydney);
    expect(sunTimes(utc('2024-06-21T23:59:59.999'), sydney)).toEqual(midnight);
    expect(sunTimes(utc('2024-06-21T12:00:00'), sydney)).toEqual(midnight);
    // 08:00 AEST on 21 June is still 20 June in UTC: that names Sydney's 20 June.
    expect(sunTimes(utc('2024-06-20T22:00:00'), sydney)).not.toEqual(midnight);
  });

  test('the day is the local solar day: sunrise before and sunset after the solar noon of that date', () => {
    for (const location of [paris, sydney, tokyo, losAngeles, auckland, { latitude: 10, longitude: 180 }, { latitude: 10, longitude: -180 }]) {
      const { sunrise, sunset } = sunTimes(utc('2024-06-21'), location);
      const noon = Date.UTC(2024, 5, 21, 12) - (location.longitude / 15) * 3_600_000;
      expect((sunrise as Date).getTime()).toBeLessThan(noon);
      expect((sunset as Date).getTime()).toBeGreaterThan(noon);
      expect(noon - (sunrise as Date).getTime()).toBeLessThan(12 * 3_600_000);
      expect((sunset as Date).getTime() - noon).toBeLessThan(12 * 3_600_000);
    }
  });

  test('on the equator the sun rises near 06:00 and sets near 18:00 local solar time', () => {
    // At the equinox the sun's centre is on the horizon at 06:00 and 18:00
    // local apparent solar time; refraction and the semidiameter (90.833°)
    // add about 3.3 min on each side. Local apparent time is local mean time
    // (UTC + longitude / 15 h) plus the equation of time, −7.4 min on 20 March
    // 2024 (NOAA's formula), so apparent noon is near 12:07 local mean time.
    const equationOfTime = -7.4;
    for (const longitude of [-120, -45, 0, 45, 120]) {
      const { sunrise, sunset } = sunTimes(utc('2024-03-20'), { latitude: 0, longitude });
      const apparentMinutes = (d: Date | null): number =>
        ((d as Date).getTime() - Date.UTC(2024, 2, 20)) / 60_000 + longitude * 4 + equationOfTime;
      expect(Math.abs(apparentMinutes(sunrise) - (6 * 60 - 3.3))).toBeLessThan(TOLERANCE_MINUTES);
      expect(Math.abs(apparentMinutes(sunset) - (18 * 60 + 3.3))).toBeLessThan(TOLERANCE_MINUTES);
      expect(Math.abs(apparentMinutes(sunrise) - 6 * 60)).toBeLessThan(10);
      expect(Math.abs(apparentMinutes(sunset) - 18 * 60)).toBeLessThan(10);
    }
  });

  test('Tromsø has midnight sun at the summer solstice and polar night at the winter solstice', () => {
    expect(sunTimes(utc('2024-06-21'), tromso)).toEqual({ sunrise: null, sunset: null, polar: 'day' });
    expect(sunTimes(utc('2024-12-21'), tromso)).toEqual({ sunrise: null, sunset: null, polar: 'night' });
  });

  test('on the day the midnight sun begins the sun rises but does not set', () => {
    // PyEphem: sunrise 2024-05-16T23:08:06Z, then the sun stays up.
    const times = sunTimes(utc('2024-05-17'), tromso);
    expectNear(times.sunrise, '2024-05-16T23:08:06');
    expect(times.sunset).toBeNull();
    expect(times.polar).toBeNull();
    // ... and on the day it ends, the sun sets (PyEphem 2024-07-25T22:23:08Z) without having risen.
    const end = sunTimes(utc('2024-07-25'), tromso);
    expect(end.sunrise).toBeNull();
    expectNear(end.sunset, '2024-07-25T22:23:08');
    expect(end.polar).toBeNull();
  });

  test('the poles have polar day or night', () => {
    expect(sunTimes(utc('2024-06-21'), { latitude: 90, longitude: 0 }).polar).toBe('day');
    expect(sunTimes(utc('2024-06-21'), { latitude: -90, longitude: 0 }).polar).toBe('night');
    expect(sunTimes(utc('2024-12-21'), { latitude: 90, longitude: 0 }).polar).toBe('night');
    expect(sunTimes(utc('2024-12-21'), { latitude: -90, longitude: 0 }).polar).toBe('day');
  });

  test('uses the standard zenith of 90.833°', () => {
    expect(SUN_ZENITH_DEGREES).toBe(90.833);
  });

  test('rejects an invalid date or location', () => {
    expectInvalid(() => sunTimes(new Date(Number.NaN), paris), 'day must be a valid Date, got Invalid Date');
    expectInvalid(() => sunTimes(utc('2024-06-21'), { latitude: 91, longitude: 0 }), 'location.latitude must be a number between -90 and 90, got 91');
    expectInvalid(() => sunTimes(utc('2024-06-21'), { latitude: 0, longitude: Number.NaN }), 'location.longitude must be a number between -180 and 180, got NaN');
  });
});

describe('nextSunEvent', () => {
  test('after noon, the same day’s sunset; after sunset, the next day’s', () => {
    const sunset = nextSunEvent('sunset', utc('2024-06-21T12:00:00'), paris) as Date;
    expectNear(sunset, '2024-06-21T19:57:57');
    expect(sunset).toEqual(sunTimes(utc('2024-06-21'), paris).sunset);
    const next = nextSunEvent('sunset', sunset, paris);
    expectNear(next, '2024-06-22T19:58:06');
    expect(next).toEqual(sunTimes(utc('2024-06-22'), paris).sunset);
    // Strictly after: one millisecond before the sunset still gives that sunset.
    expect(nextSunEvent('sunset', new Date(sunset.getTime() - 1), paris)).toEqual(sunset);
  });

  test('after noon, the next sunrise is the next morning’s', () => {
    expectNear(nextSunEvent('sunrise', utc('2024-06-21T12:00:00'), paris), '2024-06-22T03:47:18');
    expectNear(nextSunEvent('sunrise', utc('2024-06-21T00:00:00'), paris), '2024-06-21T03:47:03');
  });

  test('an offset moves the event, and "after" is compared with the moved instant', () => {
    // 15 minutes before sunset (19:57:57 on the 21st, 19:58:06 on the 22nd).
    expectNear(nextSunEvent('sunset', utc('2024-06-21T12:00:00'), paris, -15), '2024-06-21T19:42:57');
    // Already past sunset − 15 min but before sunset: the next day's.
    expectNear(nextSunEvent('sunset', utc('2024-06-21T19:50:00'), paris, -15), '2024-06-22T19:43:06');
    // Past sunset but before sunset + 30 min: still today's.
    expectNear(nextSunEvent('sunset', utc('2024-06-21T20:00:00'), paris, 30), '2024-06-21T20:27:57');
    expectNear(nextSunEvent('sunset', utc('2024-06-21T20:30:00'), paris, 30), '2024-06-22T20:28:06');
    // Exactly the offset, to the millisecond, of the unshifted event.
    const sunset = sunTimes(utc('2024-06-21'), paris).sunset as Date;
    expect(nextSunEvent('sunset', utc('2024-06-21T12:00:00'), paris, -15)).toEqual(new Date(sunset.getTime() - 15 * 60_000));
    expect(nextSunEvent('sunrise', utc('2024-06-21T00:00:00'), paris, 0.5)).toEqual(
      new Date((sunTimes(utc('2024-06-21'), paris).sunrise as Date).getTime() + 30_000),
    );
  });

  test('a large offset may move the event across midnight', () => {
    // Sunset + 6 h on 21 June is 01:57:57 UTC on the 22nd.
    expectNear(nextSunEvent('sunset', utc('2024-06-22T00:00:00'), paris, 360), '2024-06-22T01:57:57');
    // Sunrise − 6 h on 22 June is 21:47:18 UTC on the 21st.
    expectNear(nextSunEvent('sunrise', utc('2024-06-21T20:00:00'), paris, -360), '2024-06-21T21:47:18');
  });

  test('late March in Paris (summer time starts 2024-03-31 01:00 UTC): UTC instants do not jump', () => {
    expectNear(nextSunEvent('sunset', utc('2024-03-30T18:30:00'), paris), '2024-03-31T18:20:32');
    expectNear(nextSunEvent('sunrise', utc('2024-03-30T12:00:00'), paris), '2024-03-31T05:29:36');
    expectNear(nextSunEvent('sunset', utc('2024-03-30T12:00:00'), paris, -15), '2024-03-30T18:04:02');
  });

  test('late October in Paris (summer time ends 2024-10-27 01:00 UTC): UTC instants do not jump', () => {
    expectNear(nextSunEvent('sunset', utc('2024-10-26T17:00:00'), paris), '2024-10-27T16:37:56');
    expectNear(nextSunEvent('sunrise', utc('2024-10-27T00:00:00'), paris), '2024-10-27T06:30:10');
    expectNear(nextSunEvent('sunrise', utc('2024-10-27T06:31:00'), paris, 30), '2024-10-27T07:00:10');
    expectNear(nextSunEvent('sunrise', utc('2024-10-27T07:01:00'), paris, 30), '2024-10-28T07:01:45');
  });

  test('east of Greenwich the next sunrise may be the next local date’s on the same UTC date', () => {
    // 22:00 AEST on 20 June: the next sunrise is Sydney's 21 June, 07:00 AEST.
    expectNear(nextSunEvent('sunrise', utc('2024-06-20T12:00:00'), sydney), '2024-06-20T21:00:04');
  });

  test('west of Greenwich the next sunset may be the previous local date’s', () => {
    // 18:00 PDT on 21 June: the next sunset is that evening's, 03:07 UTC on the 22nd.
    expectNear(nextSunEvent('sunset', utc('2024-06-22T01:00:00'), losAngeles), '2024-06-22T03:07:45');
  });

  test('following a trigger day after day gives one event a day, about 24 h apart, through a year', () => {
    let at = utc('2024-01-01T00:00:00');
    let count = 0;
    while (at.getTime() < Date.UTC(2025, 0, 1)) {
      const next = nextSunEvent('sunset', at, paris, -15) as Date;
      const gap = next.getTime() - at.getTime();
      if (count > 0) {
        expect(gap).toBeGreaterThan(23.9 * 3_600_000);
        expect(gap).toBeLessThan(24.1 * 3_600_000);
      }
      at = next;
      count++;
    }
    expect(count).toBe(367); // 366 days of 2024, plus 1 January 2025's
  });

  test('polar day and night are skipped until the sun rises or sets again', () => {
    // PyEphem: the midnight sun ends with the sunset of 2024-07-25T22:23:08Z
    // and the sunrise of 2024-07-25T23:19:11Z; the polar night with the
    // sunrise of 2025-01-15T10:24:54Z and the sunset of 2025-01-15T11:23:07Z.
    expectNear(nextSunEvent('sunset', utc('2024-06-01T00:00:00'), tromso), '2024-07-25T22:23:08');
    expectNear(nextSunEvent('sunrise', utc('2024-06-01T00:00:00'), tromso), '2024-07-25T23:19:11');
    expectNear(nextSunEvent('sunrise', utc('2024-12-01T00:00:00'), tromso), '2025-01-15T10:24:54');
    expectNear(nextSunEvent('sunset', utc('2024-12-01T00:00:00'), tromso, -15), '2025-01-15T11:08:07');
  });

  test('null where the sun never crosses the horizon on any day searched (the poles)', () => {
    expect(nextSunEvent('sunrise', utc('2024-06-01T00:00:00'), { latitude: 90, longitude: 0 })).toBeNull();
    expect(nextSunEvent('sunset', utc('2024-06-01T00:00:00'), { latitude: -90, longitude: 0 })).toBeNull();
  });

  test('rejects bad arguments', () => {
    expectInvalid(() => nextSunEvent('noon' as 'sunset', utc('2024-06-21'), paris), 'event must be "sunrise" or "sunset", got "noon"');
    expectInvalid(() => nextSunEvent('sunset', new Date('not a date'), paris), 'after must be a valid Date');
    expectInvalid(() => nextSunEvent('sunset', utc('2024-06-21'), paris, Number.POSITIVE_INFINITY), 'offsetMinutes must be a finite number, got Infinity');
    expectInvalid(() => nextSunEvent('sunset', utc('2024-06-21'), { latitude: 0, longitude: 181 }), 'location.longitude must be a number between -180 and 180, got 181');
  });
});

describe('validateLocation', () => {
  test('returns a clean copy of a good location', () => {
    const input = JSON.parse('{"latitude": 48.8566, "longitude": 2.3522}') as unknown;
    const location = validateLocation(input);
    expect(location).toEqual(paris);
    expect(location).not.toBe(input);
    expect(validateLocation({ latitude: -90, longitude: 180 })).toEqual({ latitude: -90, longitude: 180 });
    expect(validateLocation({ latitude: 90, longitude: -180 })).toEqual({ latitude: 90, longitude: -180 });
  });

  test.each<[string, unknown, string]>([
    ['a latitude too far north', { latitude: 91, longitude: 0 }, 'location.latitude must be a number between -90 and 90, got 91'],
    ['a latitude too far south', { latitude: -90.5, longitude: 0 }, 'location.latitude must be a number between -90 and 90, got -90.5'],
    ['a latitude as text', { latitude: '48.85', longitude: 2.35 }, 'location.latitude must be a number between -90 and 90, got "48.85"'],
    ['no latitude', { longitude: 2.35 }, 'location.latitude must be a number between -90 and 90, got undefined'],
    ['a NaN latitude', { latitude: Number.NaN, longitude: 0 }, 'location.latitude must be a number between -90 and 90, got NaN'],
    ['a longitude out of range', { latitude: 0, longitude: 200 }, 'location.longitude must be a number between -180 and 180, got 200'],
    ['a null longitude', { latitude: 0, longitude: null }, 'location.longitude must be a number between -180 and 180, got null'],
    ['an unknown field', { latitude: 0, longitude: 0, elevation: 35 }, 'location has an unknown field "elevation" (expected latitude and longitude)'],
    ['a list', [48.85, 2.35], 'location must be an object { latitude, longitude } in degrees, got [48.85,2.35]'],
    ['nothing', undefined, 'location must be an object { latitude, longitude } in degrees, got undefined'],
    ['text', '48.85,2.35', 'location must be an object { latitude, longitude } in degrees, got "48.85,2.35"'],
  ])('rejects %s', (_name, value, message) => {
    expectInvalid(() => validateLocation(value), message);
  });

  test('names the value as told', () => {
    expectInvalid(() => validateLocation({ latitude: 0, longitude: 999 }, 'settings.home'), 'settings.home.longitude must be a number between -180 and 180, got 999');
  });
});
