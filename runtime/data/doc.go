// Package data loads training data for generated models and fills their
// batches.
//
// A Source is N examples, each with a value for every one of its Fields;
// a Loader binds those fields to a model's Spec().Inputs (by name, by
// position, or as LoaderOptions.Bind says), checks sizes and dtypes once,
// and fills a runtime.Batch for any batch of an epoch. Epoch orders are
// permutations drawn from (seed, epoch) alone, so batches can be made ahead
// (prefetch) or again (resume) and a rank of a data-parallel run reads its
// own share (LoaderOptions.Rank, World). Every failure is an error; nothing
// panics on bad files or wrong buffers.
//
// Sources:
//
//   - Dataset: float32 examples and int32 labels, from IDX files (LoadIDX,
//     LoadMNIST; gzip'd or not, told by the magic number).
//   - Table: a CSV file's chosen feature and target columns (LoadCSV), with
//     a Standardizer fit on the training split only.
//   - ImageFolder: one sub-folder per class (LoadImageFolder), images
//     decoded and resized once into a uint8 cache (an ImageSource, which
//     augmentation reads), rescaled to float32 [0, 1] when batches are
//     filled.
//   - Text: byte windows and their next bytes, for character models.
//   - Subset: some examples of another Source (StratifiedSplit,
//     SplitLabeled, ImageFolder.Split).
//   - WithConsts: batch-independent values for inputs without the batch
//     axis.
//
// The Batcher is the older single-input walk over a Dataset.
package data
