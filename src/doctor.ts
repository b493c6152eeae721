import { DoctorUsageError, parseDoctorArgs, USAGE } from './doctor/options';
import { renderJson, renderText } from './doctor/report';
import { runDoctor } from './doctor/run';

/**
 * `npm run doctor` (`node dist/doctor.js` in the image): the go-live check of this
 * environment's settings against Redis and the upstream. Exit 0 when every needed check
 * passes, 1 when one fails, 2 on a bad option.
 */
async function main(): Promise<number> {
  let options;
  try {
    options = parseDoctorArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof DoctorUsageError)) throw err;
    process.stderr.write(`doctor: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const report = await runDoctor(process.env, options);
  process.stdout.write(options.json ? renderJson(report) : renderText(report));
  return report.exitCode;
}

// Exit once the output is flushed: a Redis or HTTP socket still closing must not hold the verdict back.
main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => process.stderr.write(`doctor: failed: ${err instanceof Error ? err.message : String(err)}\n`, () => process.exit(1)),
);
