/**
 * The admin page's state and actions, shared by its parts (client/pages/admin/*): the page's
 * own connection, the training set read here, the upload the server keeps for further
 * trainings, the job, publishing, and the hosted services with every kept version.
 */
import { duplicateWarnings, type DuplicateReport } from '../../shared/classify/dataset.ts';
import type { MedclassClient, PushEvent, TrainClassifier } from '../../shared/client/client.ts';
import { errorMessage } from '../../shared/errors.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { DEFAULT_SPEC, type FeatureSpec } from '../../shared/features/spec.ts';
import { IMAGE_MODES, PRIVACY_MODES, type PrivacyMode, type ServiceInfo } from '../../shared/protocol/messages.ts';
import { LIST_CHOICES, SPEC_CHOICES } from '../features/spec_choices.ts';
import { auth } from '../lib/session.svelte.ts';
import { connectAdmin } from './connection.ts';
import { checkDuplicates, readFolder, readZip, zipDataset, type LocalDataset } from './dataset.ts';
import { mixedSizes } from './image_sizes.ts';
import { asReport, type EpochPoint, type TrainReport } from './report.ts';
import type { TrainingBackend } from './training_backend.ts';

export interface Note {
  ok: boolean;
  text: string;
}

export interface JobState {
  jobId: string | null;
  phase: string;
  done: number;
  total: number;
  report: TrainReport | null;
  error: string | null;
}

/** The CNN's stage widths on offer (the CLI's --widths); the default is the third. */
export const CNN_WIDTHS = [
  { label: '4, 8 (tiny: a quick check)', value: [4, 8] },
  { label: '8, 16, 32 (small)', value: [8, 16, 32] },
  { label: '16, 32, 64 (default)', value: [16, 32, 64] },
  { label: '32, 64, 128 (large)', value: [32, 64, 128] },
] as const;

/** The spec's numeric defaults; the lists (LBP, GLCM distances) are offered as named sets (LIST_CHOICES). */
const { lbp: _lbp, glcmDistances: _distances, gaborFrequencies: _frequencies, ...SCALAR_DEFAULTS } = DEFAULT_SPEC;

/** The kept upload's id and name survive a reload of this tab: the server keeps it for its owner, not for one connection. */
const KEPT_KEY = 'medclass.keptUpload';

function readKept(): { uploadId: string; name: string } | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEPT_KEY) ?? 'null') as { uploadId?: unknown; name?: unknown } | null;
    return v && typeof v.uploadId === 'string' && typeof v.name === 'string' ? { uploadId: v.uploadId, name: v.name } : null;
  } catch {
    return null;
  }
}

export class AdminPage {
  // --- connection
  client = $state.raw<MedclassClient | null>(null);
  connectError = $state<string | null>(null);
  services = $state.raw<ServiceInfo[]>([]);

  // --- training set
  dataset = $state.raw<LocalDataset | null>(null);
  reading = $state<string | null>(null);
  datasetError = $state<string | null>(null);
  duplicates = $state.raw<{ report: DuplicateReport; undecodable: string[]; sizes: { width: number; height: number }[] } | null>(null);
  private thumbs: Record<string, string> = {};

  // --- the upload the server keeps
  uploadId = $state<string | null>(readKept()?.uploadId ?? null);
  /** The training set the kept upload holds, by name. */
  uploadedName = $state<string | null>(readKept()?.name ?? null);
  uploading = $state<{ sent: number; total: number } | null>(null);
  uploadNote = $state<Note | null>(null);

  // --- features and classifier
  params = $state({ ...SCALAR_DEFAULTS, size: 0 as number, features: [...DEFAULT_SPEC.features] });
  /** Index into LIST_CHOICES of the chosen LBP settings and GLCM distances. */
  lists = $state({ lbp: 0, glcmDistances: 0 });
  /** Automatic tuning on the server (`train`'s `auto`): feature sets, sizes, classifiers and settings within a budget. */
  auto = $state(false);
  autoBudget = $state(120);
  /** 'search': the server tries feature sets and sizes too; 'spec': it keeps the features and size chosen here. */
  autoFeatures = $state<'search' | 'spec'>('search');
  operatingPoint = $state<'balanced' | 'accuracy'>('balanced');
  rankBy = $state<'auc' | 'balanced'>('auc');
  kind = $state<'svm' | 'knn' | 'cnn'>('svm');
  /** The CNN's settings (the CLI's --epochs, --widths, --no-augment, --no-flip); `colour`: R, G, B planes rather than grey. */
  cnn = $state({ epochs: 30, widths: 2, augment: true, flip: true, colour: false });
  /** Where the CNN trains: on the server (the upload), or in this browser (the images never leave the device). */
  trainWhere = $state<'server' | 'browser'>('server');
  kernel = $state<'rbf' | 'linear'>('rbf');
  C = $state(1);
  gammaMode = $state<'scale' | 'auto' | 'value'>('scale');
  gammaValue = $state(0.01);
  balanced = $state(false);
  k = $state(5);
  metric = $state<'euclidean' | 'cosine'>('euclidean');
  weights = $state<'uniform' | 'distance'>('uniform');

  // --- training and publishing
  job = $state<JobState | null>(null);
  /** The CNN's epochs so far, for the live curves (server progress or this browser's training). */
  curves = $state.raw<EpochPoint[]>([]);
  /** What runs this browser's training, once it has started. */
  backend = $state.raw<TrainingBackend | null>(null);
  /** The model this browser trained, for `publishModel`; its job id is made here. */
  private browserModel: { jobId: string; text: string } | null = null;
  private stopping = $state.raw<AbortController | null>(null);
  serviceName = $state('');
  description = $state('');
  // the model going to devices (`device`) is an explicit choice, never a default
  modes = $state<PrivacyMode[]>([...IMAGE_MODES]);
  publishing = $state(false);
  /** The job last published: Publish waits for a new training. */
  publishedJob = $state<string | null>(null);
  publishNote = $state<Note | null>(null);
  serviceNote = $state<Note | null>(null);
  /** The service whose version is being changed. */
  switching = $state<string | null>(null);

  /** The CNN trains on the image itself: its spec's one feature is the pixels (grey or colour). */
  readonly isCnn = $derived(this.kind === 'cnn' && !this.auto);
  readonly inBrowser = $derived(this.isCnn && this.trainWhere === 'browser');

  readonly spec = $derived.by((): FeatureSpec | string => {
    try {
      const chosen = { lbp: LIST_CHOICES.lbp[this.lists.lbp]!.value, glcmDistances: LIST_CHOICES.glcmDistances[this.lists.glcmDistances]!.value };
      const features = this.isCnn ? [this.cnn.colour ? 'colourPixels' : 'pixels'] : this.params.features;
      return parseFeatureSpec({ ...$state.snapshot(this.params), features, ...chosen, gaborFrequencies: DEFAULT_SPEC.gaborFrequencies });
    } catch (e) {
      return errorMessage(e);
    }
  });

  readonly classifier = $derived.by((): TrainClassifier => {
    if (this.kind === 'cnn') {
      const { epochs, widths, augment, flip } = this.cnn;
      return { kind: 'cnn', epochs, widths: [...CNN_WIDTHS[widths]!.value], augment, flip: augment && flip, classWeight: this.balanced ? 'balanced' : null };
    }
    if (this.kind === 'knn') return { kind: 'knn', k: this.k, metric: this.metric, weights: this.weights };
    const gamma = this.kernel === 'linear' ? undefined : this.gammaMode === 'value' ? this.gammaValue : this.gammaMode;
    return { kind: 'svm', kernel: this.kernel, C: this.C, ...(gamma === undefined ? {} : { gamma }), classWeight: this.balanced ? 'balanced' : null, probability: true };
  });

  readonly dupLines = $derived(this.duplicates ? duplicateWarnings(this.duplicates.report, 5) : []);
  /** Images of several sizes while the spec keeps each image's size: the server would refuse to train. */
  readonly mixed = $derived(this.duplicates && this.params.size === 0 ? mixedSizes(this.duplicates.sizes, SPEC_CHOICES.size) : null);
  readonly training = $derived(this.job !== null && !this.job.report && !this.job.error);

  /** Why Upload cannot be pressed now, in words; null when it can. */
  readonly uploadBlocked = $derived.by((): string | null => {
    if (!this.client) return 'Not connected to the server.';
    if (!this.dataset) return 'Choose a training set first.';
    if (!this.duplicates) return 'Checking the images first…';
    if (this.uploading) return 'Uploading…';
    if (this.uploadId && this.uploadedName === this.dataset.name) return 'The server keeps this set for further trainings; drop it to upload again.';
    return null;
  });

  /** Why Train cannot be pressed now, in words; null when it can. */
  readonly trainBlocked = $derived.by((): string | null => {
    if (this.training) return 'Training is running.';
    if (this.inBrowser) {
      if (!this.dataset) return 'Choose a training set first.';
      if (!this.duplicates) return 'Checking the images first…';
      if (typeof this.spec === 'string') return `Fix the features first: ${this.spec}`;
      if (this.mixed) return 'The images have different sizes: choose a size to resize them to (above).';
      return null;
    }
    if (!this.client) return 'Not connected to the server.';
    if (!this.uploadId) return 'Upload a training set first.';
    if (typeof this.spec === 'string') return `Fix the features first: ${this.spec}`;
    // --auto with the features searched chooses the size itself (never the kept size of mixed images)
    if (this.mixed && this.uploadedName === this.dataset?.name && !(this.auto && this.autoFeatures === 'search')) return 'The images have different sizes: choose a size to resize them to (above).';
    return null;
  });

  /** Why Publish cannot be pressed now, in words; null when it can. */
  readonly publishBlocked = $derived.by((): string | null => {
    if (!this.client) return 'Not connected to the server.';
    if (this.publishing) return 'Publishing…';
    if (this.job?.jobId && this.publishedJob === this.job.jobId) return 'This training is published. Train again to publish another version.';
    if (!this.serviceName) return 'Give the service a name.';
    if (!this.modes.length) return 'Choose at least one privacy mode.';
    return null;
  });

  // --- connection

  async connect(): Promise<void> {
    const token = auth.session?.token;
    if (!token || auth.session?.role !== 'admin') return;
    this.connectError = null;
    try {
      const c = await connectAdmin(token);
      this.client = c.client;
      c.client.onPush((e) => this.pushed(e));
      void c.closed.then(() => {
        if (this.client === c.client) {
          this.client = null;
          this.connectError = 'The connection closed.';
        }
      });
      await this.refreshServices();
    } catch (e) {
      this.connectError = errorMessage(e);
    }
  }

  close(): void {
    this.client?.close();
    for (const url of Object.values(this.thumbs)) URL.revokeObjectURL(url);
  }

  async refreshServices(): Promise<void> {
    if (this.client) this.services = await this.client.listServices();
  }

  private pushed(e: PushEvent): void {
    if (e.type === 'serviceChanged') {
      const fresh = e.service;
      this.services = this.services.some((s) => s.name === fresh.name)
        ? this.services.map((s) => (s.name === fresh.name ? fresh : s))
        : [...this.services, fresh].sort((a, b) => a.name.localeCompare(b.name));
    } else if (e.uploadId === this.uploadId) {
      this.forgetUpload();
      this.uploadNote = { ok: false, text: e.message };
    }
  }

  private keepUpload(uploadId: string, name: string): void {
    this.uploadId = uploadId;
    this.uploadedName = name;
    sessionStorage.setItem(KEPT_KEY, JSON.stringify({ uploadId, name }));
  }

  private forgetUpload(): void {
    this.uploadId = null;
    this.uploadedName = null;
    sessionStorage.removeItem(KEPT_KEY);
  }

  // --- training set

  async take(kind: 'folder' | 'zip', files: FileList | null): Promise<void> {
    if (!files?.length) return;
    this.datasetError = null;
    this.duplicates = null;
    this.dataset = null;
    for (const url of Object.values(this.thumbs)) URL.revokeObjectURL(url);
    this.thumbs = {};
    try {
      this.reading = 'Reading files…';
      const d = kind === 'zip' ? await readZip(files[0]!) : await readFolder(files);
      if (!d.images.length) throw new Error('no images found: expected <label>/<file> or <split>/<label>/<file>');
      this.dataset = d;
      this.duplicates = await checkDuplicates(d, (done, total) => (this.reading = `Checking the images… ${done} / ${total}`));
    } catch (e) {
      this.datasetError = errorMessage(e);
    } finally {
      this.reading = null;
    }
  }

  thumbnail(name: string): string | undefined {
    const known = this.thumbs[name];
    if (known) return known;
    const image = this.dataset?.images.find((i) => i.path === name || name.endsWith(`/${i.path}`) || i.path.endsWith(`/${name}`));
    if (!image) return undefined;
    const type = /\.png$/i.test(image.path) ? 'image/png' : /\.jpe?g$/i.test(image.path) ? 'image/jpeg' : '';
    if (!type) return undefined;
    const url = URL.createObjectURL(new Blob([image.bytes as Uint8Array<ArrayBuffer>], { type }));
    this.thumbs[name] = url;
    return url;
  }

  // --- upload

  async upload(): Promise<void> {
    const { client, dataset } = this;
    if (!client || !dataset || this.uploadBlocked) return;
    this.uploadNote = null;
    try {
      const zip = zipDataset(dataset);
      this.uploading = { sent: 0, total: zip.length };
      // the server keeps one upload per admin: this one replaces the last
      const uploadId = await client.uploadDataset(zip, {
        name: `${dataset.name}.zip`.slice(0, 256),
        files: dataset.images.length,
        chunkBytes: 256 * 1024,
        onProgress: (sent, total) => (this.uploading = { sent, total }),
      });
      this.keepUpload(uploadId, dataset.name);
    } catch (e) {
      this.uploadNote = { ok: false, text: errorMessage(e) };
    } finally {
      this.uploading = null;
    }
  }

  async dropUpload(): Promise<void> {
    const { client, uploadId } = this;
    if (!client || !uploadId) return;
    try {
      await client.dropUpload(uploadId);
      this.uploadNote = { ok: true, text: `The server dropped ${this.uploadedName ?? 'the training set'}.` };
    } catch (e) {
      // gone already (expired): the page forgets it all the same
      this.uploadNote = { ok: false, text: errorMessage(e) };
    }
    this.forgetUpload();
  }

  // --- training

  async train(): Promise<void> {
    if (this.inBrowser) return this.trainHere();
    const { client, uploadId, spec } = this;
    if (!client || !uploadId || typeof spec === 'string' || this.trainBlocked) return;
    // a new training: the last one's status lines go
    this.publishNote = null;
    this.serviceNote = null;
    this.curves = [];
    this.backend = null;
    this.job = { jobId: null, phase: 'starting', done: 0, total: 0, report: null, error: null };
    try {
      const auto = this.auto ? { budgetSeconds: this.autoBudget, features: this.autoFeatures, operatingPoint: this.operatingPoint, rankBy: this.rankBy } : undefined;
      const result = await client.train(uploadId, spec, this.classifier, {
        auto,
        onStarted: (jobId) => this.job && (this.job.jobId = jobId),
        onProgress: (phase, done, total) => this.job && Object.assign(this.job, { phase, done, total }),
        onEpoch: (e) => (this.curves = [...this.curves, e]),
      });
      this.publishNote = null;
      this.job = { jobId: result.jobId, phase: 'done', done: 1, total: 1, report: asReport(result.report), error: null };
      if (!this.serviceName) this.serviceName = (this.uploadedName ?? this.dataset?.name ?? '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    } catch (e) {
      this.job = { ...(this.job ?? { jobId: null, phase: 'failed', done: 0, total: 0, report: null }), error: errorMessage(e) };
      // the server no longer has it (expired, replaced from another tab): the page forgets it too
      if ((e as { code?: unknown }).code === 'notFound' && this.uploadId === uploadId) this.forgetUpload();
    }
  }

  /**
   * The CNN trained here, on the images picked on this page: they are decoded and trained on
   * in this tab (tfjs on the GPU where there is one) and never sent; only the model is, when
   * published.
   */
  async trainHere(): Promise<void> {
    const { dataset, spec } = this;
    const params = this.classifier;
    if (!dataset || typeof spec === 'string' || params.kind !== 'cnn' || this.trainBlocked) return;
    this.publishNote = null;
    this.serviceNote = null;
    this.curves = [];
    this.backend = null;
    this.browserModel = null;
    const stop = (this.stopping = new AbortController());
    this.job = { jobId: null, phase: 'decoding', done: 0, total: dataset.images.length, report: null, error: null };
    try {
      // loaded when first used: tfjs-layers and the network are not needed anywhere else
      const { trainInBrowser } = await import('./browser_training.ts');
      const result = await trainInBrowser(dataset, spec, {
        params: { type: 'cnn', epochs: params.epochs!, widths: params.widths!, augment: params.augment!, flip: params.flip! },
        classWeight: params.classWeight ?? null,
        signal: stop.signal,
        onBackend: (b) => (this.backend = b),
        onProgress: (phase, done, total) => this.job && Object.assign(this.job, { phase, done, total }),
        onEpoch: (e) => (this.curves = [...this.curves, e]),
      });
      const jobId = `browser-${result.doc.integrity.sha256.slice(0, 16)}`;
      this.browserModel = { jobId, text: result.modelText };
      this.job = { jobId, phase: 'done', done: 1, total: 1, report: result.report, error: null };
      if (!this.serviceName) this.serviceName = dataset.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    } catch (e) {
      this.job = { ...(this.job ?? { jobId: null, phase: 'failed', done: 0, total: 0, report: null }), error: errorMessage(e) };
    } finally {
      if (this.stopping === stop) this.stopping = null;
    }
  }

  /** Stops this browser's training (between batches). */
  stopTraining(): void {
    this.stopping?.abort();
  }

  get canStop(): boolean {
    return this.stopping !== null;
  }

  // --- publish, and versions

  async publish(): Promise<void> {
    const { client, job } = this;
    if (!client || !job?.jobId || !job.report || this.publishBlocked) return;
    this.publishing = true;
    this.publishNote = null;
    const name = this.serviceName;
    try {
      const options = { description: this.description, privacyModes: PRIVACY_MODES.filter((m) => this.modes.includes(m)) };
      // a model trained in this browser goes as its document; the server's by its job
      if (this.browserModel?.jobId === job.jobId) await client.publishModel(this.browserModel.text, name, options);
      else await client.publish(job.jobId, name, options);
      this.publishedJob = job.jobId;
      await this.refreshServices();
      const v = this.services.find((s) => s.name === name)?.version;
      this.publishNote = { ok: true, text: `Published ${name}${v ? ` as version ${v}` : ''}.` };
    } catch (err) {
      this.publishNote = { ok: false, text: errorMessage(err) };
    } finally {
      this.publishing = false;
    }
  }

  /** Makes a kept version current: back or forward. */
  async makeCurrent(service: string, version: number): Promise<void> {
    const { client } = this;
    if (!client) return;
    const from = this.services.find((s) => s.name === service)?.version;
    this.serviceNote = null;
    this.switching = service;
    try {
      await client.makeCurrent(service, version);
      await this.refreshServices();
      this.serviceNote = { ok: true, text: `${service} now serves version ${version}${from ? ` (it was ${from})` : ''}.` };
    } catch (err) {
      this.serviceNote = { ok: false, text: errorMessage(err) };
    } finally {
      this.switching = null;
    }
  }
}
