/** Why a model, a dataset or a training option cannot be used; the message says it in words. */
export type ClassifyErrorCode = 'invalidModel' | 'unsupportedModel' | 'invalidDataset' | 'invalidOptions' | 'incompatibleImage';

export class ClassifyError extends Error {
  override name = 'ClassifyError';
  constructor(
    readonly code: ClassifyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
