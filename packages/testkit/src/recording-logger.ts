import type { LogFields, Logger, LogLevel } from '@flannel-ts/core';

export interface LogRecord {
  readonly level: LogLevel;
  readonly component: string;
  readonly message: string;
  readonly fields: LogFields;
}

/** A Logger that keeps every record, so tests assert on events instead of text. */
export interface RecordingLogger extends Logger {
  readonly records: LogRecord[];
  find(message: string | RegExp): LogRecord | undefined;
}

export function createRecordingLogger(): RecordingLogger {
  const records: LogRecord[] = [];
  const make = (component: string): Logger => {
    const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
      records.push({ level, component, message, fields });
      if (process.env['FLANNEL_TEST_LOG']) process.stderr.write(`${level} ${component} ${message} ${JSON.stringify(fields)}\n`);
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (name) => make(component ? `${component}/${name}` : name) };
  };
  const root = make('');
  return {
    ...root,
    records,
    find: (message) => records.find((r) => (typeof message === 'string' ? r.message === message : message.test(r.message))),
  };
}
