import { waitFor } from '@raspy/test-support';
import { CronScheduler } from './scheduler.js';
import { validateCronExpression, validateCronJob } from '../model/cron-job.js';

describe('cron expressions', () => {
  test('valid expressions pass; bad ones are refused naming the field', () => {
    expect(validateCronExpression('0 7 * * 1-5')).toBe('0 7 * * 1-5');
    expect(validateCronExpression('*/30 * * * * *')).toBe('*/30 * * * * *');
    expect(() => validateCronExpression('0 7 * *')).toThrow(/has 4 fields; a cron expression has 5/);
    expect(() => validateCronExpression('0 25 * * *')).toThrow(/"0 25 \* \* \*" is not a valid cron expression \(hour/);
    expect(() => validateCronExpression('every morning')).toThrow(/fields|not a valid/);
    expect(() => validateCronJob({ name: 'wake', expression: '0 7 * * *', timezone: 'Mars/Olympus' })).toThrow(/"Mars\/Olympus" is not a time zone/);
    expect(() => validateCronJob({ name: 'Wake Up', expression: '0 7 * * *' })).toThrow(/cron job.name/);
    expect(validateCronJob({ name: 'wake', expression: '0 7 * * *', timezone: 'Europe/Paris' })).toEqual({ name: 'wake', expression: '0 7 * * *', timezone: 'Europe/Paris' });
  });
});

describe('the scheduler', () => {
  test('publishes each tick under /event/cron/<name>; a disabled job does not tick; missed ticks are reported', async () => {
    const events: { key: string; value: Record<string, unknown> }[] = [];
    const scheduler = new CronScheduler({ publish: async (key, value) => void events.push({ key, value: value as Record<string, unknown> }), tolerance: 500 });
    await scheduler.set({ name: 'every-second', expression: '* * * * * *' });
    await scheduler.set({ name: 'off', expression: '* * * * * *', enabled: false });
    scheduler.start();
    try {
      await waitFor(() => events.filter((e) => e.key === '/event/cron/every-second').length >= 2, 'two ticks', 5000);
      expect(events.every((e) => e.key !== '/event/cron/off')).toBe(true);
      expect(events[0]?.value).toMatchObject({ job: 'every-second', scheduled: expect.any(String), reason: 'scheduled' });
      expect(scheduler.get('every-second')).toMatchObject({ ticks: expect.any(Number), next: expect.any(String) });
      expect(scheduler.get('off').next).toBeNull();
      // The Pi is busy for 2.5 s: the ticks in between are missed, and said so.
      const busyUntil = Date.now() + 2500;
      while (Date.now() < busyUntil) {
        // a blocked event loop, as on a loaded Pi
      }
      await waitFor(() => events.some((e) => e.key === '/event/cron/every-second/missed'), 'a missed tick report', 5000);
      expect(scheduler.get('every-second').missed).toBeGreaterThan(0);
      await scheduler.tick('off');
      expect(events.some((e) => e.key === '/event/cron/off' && e.value.reason === 'by hand')).toBe(true);
    } finally {
      await scheduler.stop();
    }
  });
});
