import { Command, CommanderError } from 'commander';
import { MedclassError } from '../../shared/errors.ts';
import { addSpecOptions } from './spec_options.ts';

const program = new Command('medclass')
  .description('MedClass: medical image features, models and the secure classification service')
  .showHelpAfterError()
  .exitOverride();

addSpecOptions(
  program
    .command('features')
    .description('extract features of images (files, or folders searched recursively) as JSON')
    .argument('<paths...>', 'image files or folders'),
)
  .option('--out <file>', 'write the JSON here instead of standard output')
  .option('--jobs <n>', 'worker threads (default: one per core)')
  .action(async (paths: string[], options) => (await import('./features.command.ts')).featuresCommand(paths, options));

addSpecOptions(
  program
    .command('train')
    .description('train a model on a labelled folder (one subfolder per class, or train/ val/ test/ splits)')
    .argument('<dataset>', 'dataset folder'),
)
  .option('--classifier <name>', 'svm or knn', 'svm')
  .option('--kernel <name>', 'SVM kernel: rbf or linear', 'rbf')
  .option('--c <x>', 'SVM regularisation C')
  .option('--gamma <x>', "RBF gamma, a number or 'scale'")
  .option('--k <n>', 'KNN neighbours')
  .option('--metric <name>', 'KNN distance: euclidean or cosine')
  .option('--auto', 'tune C and gamma, or k, by balanced accuracy on val (or cross-validation), then refit')
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
  .description('run the service: the web app and, later, the classification server')
  .option('--port <n>', 'port to listen on', '8080')
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .action(async (options) => (await import('./serve.command.ts')).serveCommand(options));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode;
  else if (e instanceof MedclassError) {
    process.stderr.write(`medclass: ${e.message}\n`);
    process.exitCode = 2;
  } else throw e;
}
