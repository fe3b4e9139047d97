package data

// Image folders: one sub-folder per class, as Keras's
// image_dataset_from_directory reads them.
//
// Every image is decoded and resized once, when the folder is loaded, and
// kept as uint8 HWC in one cache (Image gives example i's); batches are
// filled from the cache, rescaled to float32. Decoding runs on several
// goroutines. What it does not do: augmentation (which reads the cache),
// cropping to keep the aspect ratio (images are stretched to the size, as
// Keras's crop_to_aspect_ratio=False), or reading labels from anywhere but
// the folder names.

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	_ "image/gif"  // GIF
	_ "image/jpeg" // JPEG
	_ "image/png"  // PNG

	_ "golang.org/x/image/bmp"  // BMP
	"golang.org/x/image/draw"   // bilinear resampling
	_ "golang.org/x/image/webp" // WebP (decoding only)

	"github.com/mdlc/mdlc/runtime"
)

// ImageExtensions are the file name extensions (lower case) an image
// folder reads; other files are skipped with a warning. The format is told
// by the file's content, not its extension.
var ImageExtensions = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}

// maxImagePixels bounds the size an image header may announce before it is
// decoded (a decompression bomb is an unreadable file, not an out-of-memory
// crash).
const maxImagePixels = 1 << 27

// ImageOptions configures LoadImageFolder.
type ImageOptions struct {
	// Height, Width and Channels are the model's input size [N, H, W, C]
	// (ImageOptionsFor reads them from a Spec input). Every image is
	// resized to H x W with bilinear interpolation
	// (golang.org/x/image/draw.BiLinear, which widens its kernel when
	// shrinking, so downscaling is antialiased as PIL's resize is; Keras's
	// default tf.image.resize is not). Channels 1 converts to grayscale
	// (ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B, as PIL's "L"), 3 to RGB.
	// Transparent pixels are composited over black.
	Height, Width, Channels int
	// Rescale multiplies each uint8 value when a batch is filled; 0 means
	// 1/255, so values lie in [0, 1]. Use 1 for raw 0..255 values.
	Rescale float32
	// Strict makes a file that cannot be read or decoded an error; without
	// it such a file is skipped with a Warning.
	Strict bool
	// OneHot makes the label field an f32 one-hot vector of len(Classes)
	// (Keras's label_mode "categorical") instead of an i32 class id
	// ("int").
	OneHot bool
	// Workers is the number of decoding goroutines; 0 means GOMAXPROCS.
	Workers int
}

// ImageOptionsFor returns options whose size is that of in, an input of
// shape [N, H, W, C] with C 1 or 3.
func ImageOptionsFor(in runtime.IO) (ImageOptions, error) {
	s := in.Shape
	if len(s) != 4 || s[0] != -1 || s[1] < 1 || s[2] < 1 || (s[3] != 1 && s[3] != 3) {
		return ImageOptions{}, fmt.Errorf("data: input %s %v is not an image batch [N, H, W, C] with C 1 or 3", in.Name, s)
	}
	if in.DType != runtime.F32 {
		return ImageOptions{}, fmt.Errorf("data: image input %s is %s, want f32", in.Name, in.DType)
	}
	return ImageOptions{Height: s[1], Width: s[2], Channels: s[3]}, nil
}

// Warning is a file a loader skipped, and why.
type Warning struct {
	Path string
	Err  error
}

func (w Warning) String() string { return fmt.Sprintf("%s: skipped: %v", w.Path, w.Err) }

// ImageFolder is the images of a folder tree, dir/CLASS/.../FILE. It is an
// ImageSource and a Labeled Source of two fields: image, f32 [H, W, C]
// (the cached bytes times Rescale), and label, the class id (i32 scalar) or
// its one-hot vector (f32 [len(Classes)]) with OneHot. From LoadImages it
// has no classes and image is its only field.
type ImageFolder struct {
	Dir string
	// Classes are the sub-folders of Dir in sorted order; class i has
	// label i.
	Classes []string
	// Paths and Labels are the examples: class by class, files in sorted
	// path order within a class.
	Paths  []string
	Labels []int32
	// Warnings lists the files skipped (the library prints nothing).
	Warnings []Warning

	opts ImageOptions
	size int     // bytes of one image
	pix  []uint8 // Len() images of size bytes
}

// LoadImageFolder reads every image under dir's class sub-folders (hidden
// files and folders, names starting with ".", are ignored, as are files
// directly in dir), decodes it, and resizes it to the options' size. It
// fails when dir is missing or has no class folders, when a class has no
// readable image, or (Strict) when a file with an image extension cannot
// be decoded; a file without an image extension is skipped with a warning.
func LoadImageFolder(dir string, opts ImageOptions) (*ImageFolder, error) {
	if err := checkImageOptions(&opts); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: image folder: %w", err)
	}
	f := &ImageFolder{Dir: dir, opts: opts, size: opts.Height * opts.Width * opts.Channels}
	for _, e := range entries {
		if isDir(dir, e) && !strings.HasPrefix(e.Name(), ".") {
			f.Classes = append(f.Classes, e.Name())
		}
	}
	if len(f.Classes) == 0 {
		return nil, fmt.Errorf("data: image folder %s has no class sub-folders (want %s/CLASS/IMAGE)", dir, dir)
	}
	slices.Sort(f.Classes)
	var paths []string
	var labels []int32
	for c, class := range f.Classes {
		cdir := filepath.Join(dir, class)
		err := filepath.WalkDir(cdir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if opts.Strict {
					return err
				}
				f.Warnings = append(f.Warnings, Warning{p, err})
				return nil
			}
			if strings.HasPrefix(e.Name(), ".") && p != cdir {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.IsDir() {
				return nil
			}
			if !slices.Contains(ImageExtensions, strings.ToLower(filepath.Ext(p))) {
				f.Warnings = append(f.Warnings, Warning{p, fmt.Errorf("not an image file name (extensions %s)", strings.Join(ImageExtensions, " "))})
				return nil
			}
			paths = append(paths, p)
			labels = append(labels, int32(c))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data: image folder: %w", err)
		}
	}

	if err := f.decode(paths, labels); err != nil {
		return nil, err
	}
	counts := make([]int, len(f.Classes))
	for _, l := range f.Labels {
		counts[l]++
	}
	for c, n := range counts {
		if n == 0 {
			return nil, fmt.Errorf("data: class folder %s has no readable images (%d warnings)", filepath.Join(dir, f.Classes[c]), len(f.Warnings))
		}
	}
	return f, nil
}

// decode decodes paths into the cache on workers and keeps those that
// decoded (with their labels), warning of the others or, Strict, failing.
func (f *ImageFolder) decode(paths []string, labels []int32) error {
	opts := f.opts
	pix := make([]uint8, len(paths)*f.size)
	errs := make([]error, len(paths))
	workers := opts.Workers
	if workers < 1 {
		workers = goruntime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(paths), 1)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = decodeImage(paths[i], opts, pix[i*f.size:(i+1)*f.size])
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()

	kept := 0
	for i, p := range paths {
		if errs[i] != nil {
			if opts.Strict {
				return fmt.Errorf("data: %s: %w", p, errs[i])
			}
			f.Warnings = append(f.Warnings, Warning{p, errs[i]})
			continue
		}
		copy(pix[kept*f.size:(kept+1)*f.size], pix[i*f.size:(i+1)*f.size])
		f.Paths = append(f.Paths, p)
		f.Labels = append(f.Labels, labels[i])
		kept++
	}
	f.pix = pix[: kept*f.size : kept*f.size]
	return nil
}

// LoadImages reads the image files paths (to predict on): an ImageFolder
// without classes, whose only field is image and whose Labels are -1. A
// file that cannot be decoded is skipped with a Warning (Paths lists those
// kept) or, Strict, an error; none left is an error.
func LoadImages(paths []string, opts ImageOptions) (*ImageFolder, error) {
	if err := checkImageOptions(&opts); err != nil {
		return nil, err
	}
	f := &ImageFolder{opts: opts, size: opts.Height * opts.Width * opts.Channels}
	labels := make([]int32, len(paths))
	for i := range labels {
		labels[i] = -1
	}
	if err := f.decode(paths, labels); err != nil {
		return nil, err
	}
	if f.Len() == 0 {
		return nil, fmt.Errorf("data: no readable images among %d files (%d warnings)", len(paths), len(f.Warnings))
	}
	return f, nil
}

func checkImageOptions(opts *ImageOptions) error {
	if opts.Height < 1 || opts.Width < 1 || (opts.Channels != 1 && opts.Channels != 3) {
		return fmt.Errorf("data: image size %dx%dx%d: want height and width >= 1 and 1 or 3 channels", opts.Height, opts.Width, opts.Channels)
	}
	if opts.Height > maxImagePixels/opts.Width/opts.Channels {
		return fmt.Errorf("data: image size %dx%dx%d is too large", opts.Height, opts.Width, opts.Channels)
	}
	if opts.Rescale == 0 {
		opts.Rescale = 1.0 / 255
	}
	return nil
}

// isDir reports whether e is a folder, following a symbolic link.
func isDir(dir string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && st.IsDir()
}

// decodeImage decodes the image at path and writes it, resized to opts'
// size, into dst (HWC uint8). A decoder's panic is an error.
func decodeImage(path string, opts ImageOptions, dst []uint8) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder failed: %v", r)
		}
	}()
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(file))
	if err != nil {
		return fmt.Errorf("not a readable image: %w", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImagePixels/max(cfg.Height, 1) {
		return fmt.Errorf("%s image of %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	img, format, err := image.Decode(bufio.NewReader(file))
	if err != nil {
		// Decoders report a short file as io.ErrUnexpectedEOF, or (png) as a
		// FormatError saying so.
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "unexpected EOF") {
			return fmt.Errorf("truncated %s image: %w", format, err)
		}
		return fmt.Errorf("not a readable %s image: %w", format, err)
	}
	resize(img, opts.Height, opts.Width, opts.Channels, dst)
	return nil
}

// resize writes img, resized bilinearly to h x w, into dst as c (1 or 3)
// channels HWC.
func resize(img image.Image, h, w, c int, dst []uint8) {
	r := image.Rect(0, 0, w, h)
	rgba := image.NewRGBA(r)
	if b := img.Bounds(); b.Dx() == w && b.Dy() == h {
		draw.Draw(rgba, r, img, b.Min, draw.Src)
	} else {
		draw.BiLinear.Scale(rgba, r, img, b, draw.Src, nil)
	}
	p := rgba.Pix
	for i := range w * h {
		R, G, B := uint32(p[4*i]), uint32(p[4*i+1]), uint32(p[4*i+2])
		if c == 1 {
			// color.GrayModel's weights, on 8-bit values.
			dst[i] = uint8((19595*R + 38470*G + 7471*B + 1<<15) >> 16)
		} else {
			dst[3*i], dst[3*i+1], dst[3*i+2] = uint8(R), uint8(G), uint8(B)
		}
	}
}

func (f *ImageFolder) Len() int { return len(f.Labels) }

func (f *ImageFolder) Fields() []Field {
	image := Field{Name: "image", DType: runtime.F32, Shape: []int{f.opts.Height, f.opts.Width, f.opts.Channels}}
	if len(f.Classes) == 0 {
		return []Field{image} // LoadImages
	}
	label := Field{Name: "label", DType: runtime.I32, Shape: []int{}}
	if f.opts.OneHot {
		label = Field{Name: "label", DType: runtime.F32, Shape: []int{len(f.Classes)}}
	}
	return []Field{image, label}
}

func (f *ImageFolder) Read(field, i int, dst runtime.Value) error {
	if i < 0 || i >= f.Len() {
		return fmt.Errorf("example %d of %d", i, f.Len())
	}
	switch field {
	case 0:
		if dst.F32 == nil || len(dst.F32) != f.size {
			return fmt.Errorf("image destination holds %d float32 values, want %d", len(dst.F32), f.size)
		}
		RescaleInto(dst.F32, f.pix[i*f.size:(i+1)*f.size], f.opts.Rescale)
		return nil
	case 1:
		if len(f.Classes) == 0 {
			return errors.New("images without classes have no label")
		}
		if !f.opts.OneHot {
			return readI32(dst, f.Labels[i:i+1])
		}
		if len(dst.F32) != len(f.Classes) {
			return fmt.Errorf("one-hot destination holds %d float32 values, want %d", len(dst.F32), len(f.Classes))
		}
		clear(dst.F32)
		dst.F32[f.Labels[i]] = 1
		return nil
	}
	return fmt.Errorf("no field %d", field)
}

// RescaleInto writes src[i]*scale into dst[i] (len(dst) == len(src)).
func RescaleInto(dst []float32, src []uint8, scale float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(v) * scale
	}
}

// Label is example i's class id (-1 out of range).
func (f *ImageFolder) Label(i int) int32 {
	if i < 0 || i >= len(f.Labels) {
		return -1
	}
	return f.Labels[i]
}

// ImageShape is the size every image was resized to.
func (f *ImageFolder) ImageShape() (h, w, c int) {
	return f.opts.Height, f.opts.Width, f.opts.Channels
}

// Rescale is the factor a batch's values are the cached bytes times.
func (f *ImageFolder) Rescale() float32 { return f.opts.Rescale }

// Image returns example i's cached image, H*W*C uint8 in HWC order (a view
// of the cache: do not modify it).
func (f *ImageFolder) Image(i int) ([]uint8, error) {
	if i < 0 || i >= f.Len() {
		return nil, fmt.Errorf("data: image %d of %d", i, f.Len())
	}
	return f.pix[i*f.size : (i+1)*f.size : (i+1)*f.size], nil
}

// Split splits the folder into training and validation Subsets, stratified
// by class, as Keras's validation_split (see StratifiedSplit).
func (f *ImageFolder) Split(valFraction float64, seed uint64) (train, val *Subset, err error) {
	return SplitLabeled(f, valFraction, seed)
}
