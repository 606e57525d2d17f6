import { Command, CommanderError } from 'commander';
import { errorMessage } from '../../shared/errors.ts';
import { CliError } from './cli_error.ts';
import { addSpecOptions } from './spec_options.ts';

/**
 * Ends the process once standard output has taken what was written, without the teardown of
 * the heaps and threads that a natural exit spends (about 10 ms): for a command whose work is
 * done and whose files are closed. The exit status is process.exitCode.
 */
async function exitWhenFlushed(): Promise<never> {
  await new Promise((resolve) => process.stdout.write('', resolve));
  process.exit();
}

const program = new Command('medclass')
  .description('MedClass: medical image features, models and the secure classification service')
  .showHelpAfterError()
  .exitOverride();

addSpecOptions(
  program
    .command('features')
    .description('extract features of images (files, or folders searched recursively) as JSON, JSON Lines, CSV or a numpy array')
    .argument('<paths...>', 'image files or folders'),
)
  .option('--out <file>', 'write here instead of standard output')
  .option('--format <format>', 'json (one document), jsonl (a record a line), csv (a column per value) or npy (float64 rows, needs --out)', 'json')
  .option('--jobs <n>', 'threads extracting: this one and n - 1 workers (default: one per core)')
  .action(async (paths: string[], options) => {
    await (await import('./features.command.ts')).featuresCommand(paths, options);
    await exitWhenFlushed();
  });

addSpecOptions(
  program
    .command('train')
    .description('train a model on a labelled folder (one subfolder per class, or train/ val/ test/ splits)')
    .argument('<dataset>', 'dataset folder'),
)
  .option('--classifier <name>', 'svm, knn or cnn (a small ResNet on the image itself: features pixels, size 28 unless given); svm by default; with --auto, only this one is tried')
  .option('--epochs <n>', 'CNN: most epochs, 30 by default (early stopping on val/ may end sooner)')
  .option('--widths <list>', 'CNN: channels of each residual stage, 16,32,64 by default')
  .option('--no-augment', 'CNN: train without random shifts, rotations, scale and flips')
  .option('--no-flip', 'CNN: no left-right flips among the augmentations (lateralised images)')
  .option('--kernel <name>', 'SVM kernel: rbf or linear (default rbf; with --auto, only this one is tried)')
  .option('--c <x>', 'SVM regularisation C')
  .option('--gamma <x>', "RBF gamma, a number or 'scale'")
  .option('--k <n>', 'KNN neighbours')
  .option('--metric <name>', 'KNN distance: euclidean or cosine')
  .option('--auto', 'choose the feature set, size, classifier and its settings by cross-validation of train, class weights and threshold on val, then refit (--features, --size, --classifier fix theirs)')
  .option('--budget <time>', 'time --auto may take in all, such as 120s or 5m (default 120s)')
  .option('--operating-point <measure>', "what --auto chooses class weights and the threshold for on val: 'balanced' (balanced accuracy, default) or 'accuracy'")
  .option('--rank-by <measure>', "what ranks --auto's candidates in cross-validation: 'auc' (AUC, then balanced accuracy; default) or 'balanced' (balanced accuracy, then AUC)")
  .option('--jobs <n>', 'worker threads (default: one per core)')
  .option('--class-weight <mode>', "'balanced' to weight classes by inverse frequency")
  .option('--seed <n>', 'seed for every random choice', '1')
  .option('--out <file>', 'where to write the model', 'model.json')
  .action(async (dataset: string, options) => (await import('./train.command.ts')).trainCommand(dataset, options));

program
  .command('evaluate')
  .description('score a model on a labelled folder')
  .argument('<model>', 'model file')
  .argument('<folder>', 'labelled folder (one subfolder per class)')
  .option('--json', 'print the metrics as JSON')
  .action(async (model: string, folder: string, options) => (await import('./evaluate.command.ts')).evaluateCommand(model, folder, options));

program
  .command('predict')
  .description('label images with a model')
  .argument('<model>', 'model file')
  .argument('<files...>', 'image files or folders')
  .option('--json', 'print one JSON object per file')
  .action(async (model: string, files: string[], options) => (await import('./predict.command.ts')).predictCommand(model, files, options));

program
  .command('serve')
  .description('run the service: the web app and the secure channel (logins happen inside it)')
  .option('--data <dir>', 'data folder (database, server identity)', 'data')
  .option('--port <n>', 'port to listen on', '8080')
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--allow-origin <origin...>', 'web app origins allowed besides this server (the static site)')
  .option('--no-demo', 'do not train the BreastMNIST demo service when the data folder has no service `demo`')
  .option('--trust-proxy <addresses...>', 'proxies (addresses or CIDR ranges) whose X-Forwarded-For gives the client address (also MEDCLASS_TRUSTED_PROXIES, comma-separated)')
  .option('--images-per-minute <n>', 'images one user may classify a minute (default 1200; MEDCLASS_LIMITS sets every limit as JSON)')
  .option('--identity <file>', 'the server key, PKCS#8 PEM, the same for every instance (also MEDCLASS_IDENTITY_KEY; default: made in the data folder)')
  .option('--database <url>', 'a shared Postgres database, postgres://... (also MEDCLASS_DATABASE_URL; default: SQLite in the data folder)')
  .action(async (options) => (await import('./serve.command.ts')).serveCommand(options));

program
  .command('identity')
  .description("print the server's pin (its public key and fingerprint); --new makes a key to give every instance")
  .option('--data <dir>', 'data folder', 'data')
  .option('--identity <file>', 'the server key, PKCS#8 PEM (also MEDCLASS_IDENTITY_KEY)')
  .option('--database <url>', 'a shared Postgres database (also MEDCLASS_DATABASE_URL)')
  .option('--new', 'make a new key (ECDSA P-256) and print its pin')
  .option('--out <file>', 'with --new: write the key here, mode 0600')
  .option('--stdout', 'with --new: print the key (PEM) on standard output, the pin on standard error')
  .action(async (options) => (await import('./serve.command.ts')).identityCommand(options));

const connection = (command: Command) =>
  command
    .requiredOption('--server <url>', 'server address, e.g. http://127.0.0.1:8080')
    .requiredOption('--pin <pin...>', "the server's pin, as `medclass identity` prints it (several for a key rotation)")
    .requiredOption('--user <name>', 'user name')
    .option('--password-env <var>', 'environment variable holding the password (asked for on the terminal when unset)', 'MEDCLASS_PASSWORD');

connection(program.command('classify').description('classify images with a hosted service over the secure channel').argument('<files...>', 'image files or folders'))
  .requiredOption('--service <name>', 'hosted service')
  .option('--mode <mode>', 'what leaves this machine: original, reduced (default where allowed) or features')
  .option('--json', 'one JSON object per file')
  .action(async (files: string[], options) => (await import('./classify.command.ts')).classifyCommand(files, options));

program
  .command('publish')
  .description('publish a model file as a hosted service, on the server machine (a new version; the service is created if new)')
  .argument('<model>', 'model file from medclass train')
  .requiredOption('--service <name>', 'service name')
  .option('--data <dir>', 'the server\'s data folder', 'data')
  .option('--description <text>', 'what the service classifies', '')
  .option('--modes <list>', 'what clients may use: original,reduced,features (what may be sent) and device (the model goes to the devices, which classify offline)', 'reduced,features')
  .option('--database <url>', 'the shared Postgres database, postgres://... (also MEDCLASS_DATABASE_URL; default: SQLite in the data folder)')
  .action(async (model: string, options) => (await import('./publish.command.ts')).publishCommand(model, options));

program
  .command('add-user')
  .description('add a user, on the server machine')
  .argument('<name>', 'user name')
  .option('--role <role>', 'admin or clinician', 'clinician')
  .option('--data <dir>', "the server's data folder", 'data')
  .option('--password-env <var>', "environment variable holding the new user's password", 'MEDCLASS_PASSWORD')
  .option('--database <url>', 'the shared Postgres database, postgres://... (also MEDCLASS_DATABASE_URL; default: SQLite in the data folder)')
  .action(async (name: string, options) => (await import('./user.command.ts')).addUserCommand(name, options));

program
  .command('user')
  .description("change a user on the server machine: disable, enable, role (--role), password (from --password-env), or list; their live sessions end")
  .argument('<action>', 'disable, enable, role, password or list')
  .argument('[name]', 'user name (not for list)', '')
  .option('--role <role>', 'the new role for `role`: admin or clinician')
  .option('--data <dir>', "the server's data folder", 'data')
  .option('--password-env <var>', 'environment variable holding the new password', 'MEDCLASS_PASSWORD')
  .option('--database <url>', 'the shared Postgres database, postgres://... (also MEDCLASS_DATABASE_URL; default: SQLite in the data folder)')
  .action(async (action: string, name: string, options) => (await import('./user.command.ts')).userCommand(action, name, options));

connection(program.command('services').description('list the hosted services'))
  .option('--json', 'print JSON')
  .action(async (options) => (await import('./classify.command.ts')).servicesCommand(options));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode;
  else {
    // One plain line, never a stack: the user's mistakes (errors with a code: ours, and Node's
    // such as EADDRINUSE) exit 2; anything else is ours to fix, and MEDCLASS_DEBUG shows where.
    const known = e instanceof CliError || (e instanceof Error && typeof (e as { code?: unknown }).code === 'string');
    process.stderr.write(`medclass: ${known ? '' : 'unexpected error: '}${errorMessage(e)}\n`);
    if (!known && process.env['MEDCLASS_DEBUG']) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
    process.exitCode = known ? 2 : 1;
  }
}
