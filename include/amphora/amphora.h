/* amphora C ABI: models, vocoders (offline and streaming) and text to speech from C or from any
 * language with a C foreign-function interface. It wraps the C++ API (amphora/amphora.hpp and
 * the headers beside it) and is exported by the shared library libamphora.so; see
 * docs/c_api.md for the rules summarised here.
 *
 *   amphora_vocoder* vocoder = NULL;
 *   if (amphora_vocoder_load("pkg/hifigan", NULL, &vocoder) != AMPHORA_STATUS_OK) {
 *     fprintf(stderr, "%s\n", amphora_last_error());
 *   }
 *   float* samples = NULL;
 *   size_t count = 0;
 *   amphora_vocoder_vocode(vocoder, mel, 80, frames, NULL, &samples, &count);
 *   ...
 *   amphora_free(samples);
 *   amphora_vocoder_destroy(vocoder);
 *
 * Errors: every call that can fail returns an amphora_status; AMPHORA_STATUS_OK is 0. The
 * message of the last failed call on the calling thread is amphora_last_error(). No call throws,
 * aborts or exits: C++ exceptions (std::bad_alloc included) become a status and a message.
 *
 * Ownership: handles are made by *_load / *_create and released by the matching *_destroy
 * (NULL is ignored). Arrays the library returns (samples, model outputs) are the caller's, to be
 * released with amphora_free. Strings the library returns belong to the handle they came from and
 * live as long as it does. On failure every output pointer is set to NULL and every count to 0.
 *
 * Versioning: AMPHORA_ABI_VERSION changes only when a function or a struct field is removed or
 * changes meaning. Structs that may grow begin with `size_t struct_size`, which the caller sets to
 * its own sizeof (the *_init functions do): the library reads and writes only the bytes the
 * caller's size covers, so a program built against an older header keeps working with a newer
 * library. Fields added later are appended, and their zero means "as before".
 */
#ifndef AMPHORA_AMPHORA_H
#define AMPHORA_AMPHORA_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define AMPHORA_EXPORT __attribute__((visibility("default")))
#else
#define AMPHORA_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; amphora_abi_version() is the one of the library loaded. */
#define AMPHORA_ABI_VERSION 1

AMPHORA_EXPORT int32_t amphora_abi_version(void);
/* The library's release, "MAJOR.MINOR.PATCH". */
AMPHORA_EXPORT const char* amphora_version(void);

/* The first six mirror amphora::ErrorCode (amphora/error.hpp), in its order. */
typedef enum amphora_status {
  AMPHORA_STATUS_OK = 0,
  AMPHORA_STATUS_INVALID_ARGUMENT = 1, /* bad input: wrong name, dtype, rank, shape, value */
  AMPHORA_STATUS_INVALID_MODEL = 2,    /* the model or package is corrupt or inconsistent */
  AMPHORA_STATUS_UNSUPPORTED = 3,      /* valid but not implemented, or not in this build */
  AMPHORA_STATUS_IO = 4,               /* a file is missing, unreadable or unwritable */
  AMPHORA_STATUS_OUT_OF_RANGE = 5,     /* absurd sizes, out-of-bounds indices */
  AMPHORA_STATUS_INTERNAL = 6,         /* a bug in amphora */
  AMPHORA_STATUS_NULL_ARGUMENT = 7,    /* a handle or pointer that must be given is NULL */
  AMPHORA_STATUS_MISUSE = 8,           /* a call out of order (push after finish), or a struct
                                          whose struct_size was not set by its *_init */
  AMPHORA_STATUS_OUT_OF_MEMORY = 9,
  AMPHORA_STATUS_CANCELLED = 10 /* the audio callback asked to stop */
} amphora_status;

/* "ok", "invalid_argument", ...; "unknown" for a value outside the enum. */
AMPHORA_EXPORT const char* amphora_status_name(amphora_status status);
/* What the last call that failed on this thread found wrong: the function, then the reason
 * ("amphora_vocoder_load: pkg/x: no amphora.json ..."); "" before any failure. Calls that
 * succeed leave it as it is; the next failure on this thread overwrites it. */
AMPHORA_EXPORT const char* amphora_last_error(void);

/* Releases an array the library returned (samples, model outputs). NULL is ignored. */
AMPHORA_EXPORT void amphora_free(void* buffer);

/* ---- Options -------------------------------------------------------------------------------- */

typedef enum amphora_backend {
  AMPHORA_BACKEND_NATIVE = 0,     /* amphora's engine on the package's ONNX graph */
  AMPHORA_BACKEND_TORCHSCRIPT = 1 /* the package's model.ts through LibTorch, when built with it */
} amphora_backend;

/* How to load a model or a synthesizer. NULL wherever options are taken means the defaults. */
typedef struct amphora_options {
  size_t struct_size;
  int32_t threads; /* intra-op threads; 0: all cores */
  int32_t backend; /* an amphora_backend */
} amphora_options;

/* Fills the defaults into the first struct_size bytes of `options` and sets its struct_size.
 * Call amphora_options_init, which passes the caller's sizeof. */
AMPHORA_EXPORT amphora_status amphora_options_init_sized(amphora_options* options,
                                                         size_t struct_size);
static inline amphora_status amphora_options_init(amphora_options* options) {
  return amphora_options_init_sized(options, sizeof *options);
}

/* ---- Model: any ONNX file or package, run on named tensors ----------------------------------- */

typedef enum amphora_dtype {
  AMPHORA_DTYPE_FLOAT32 = 0,
  AMPHORA_DTYPE_FLOAT64 = 1,
  AMPHORA_DTYPE_INT64 = 2,
  AMPHORA_DTYPE_INT32 = 3,
  AMPHORA_DTYPE_INT8 = 4,
  AMPHORA_DTYPE_UINT8 = 5,
  AMPHORA_DTYPE_BOOL = 6 /* one byte per element, 0 or 1 */
} amphora_dtype;

/* A tensor in row-major (C) order. As an input, every pointer is the caller's and is read during
 * the call only; data_size (bytes at data) must equal the element count times the dtype's size,
 * which catches a shape that does not describe the buffer. As an output, every pointer points
 * into the block that amphora_model_run returned. Arrays of it are passed, so it has no
 * struct_size: its layout is fixed for an ABI version. */
typedef struct amphora_tensor {
  const char* name;
  int32_t dtype; /* an amphora_dtype */
  int32_t rank;
  const int64_t* shape; /* rank sizes; may be NULL when rank is 0 */
  const void* data;     /* may be NULL when there are no elements */
  size_t data_size;
} amphora_tensor;

typedef struct amphora_model amphora_model;

/* An .onnx file, or a package directory (amphora.json + model.onnx / model.ts). */
AMPHORA_EXPORT amphora_status amphora_model_load(const char* path, const amphora_options* options,
                                                 amphora_model** model);
AMPHORA_EXPORT void amphora_model_destroy(amphora_model* model);

AMPHORA_EXPORT amphora_status amphora_model_input_count(const amphora_model* model, size_t* count);
AMPHORA_EXPORT amphora_status amphora_model_output_count(const amphora_model* model, size_t* count);
/* The name and dtype of input or output `index`; the name lives as long as the model. */
AMPHORA_EXPORT amphora_status amphora_model_input(const amphora_model* model, size_t index,
                                                  const char** name, amphora_dtype* dtype);
AMPHORA_EXPORT amphora_status amphora_model_output(const amphora_model* model, size_t index,
                                                   const char** name, amphora_dtype* dtype);

/* Runs the model on every one of its inputs, by name, in any order. On success *outputs is an
 * array of *output_count tensors, one per model output in the model's order, held with their
 * names, shapes and data (64-byte aligned) in one block: amphora_free(*outputs) releases it all.
 * Several threads may run one model at once (the runs take turns); every other handle is for one
 * thread at a time. */
AMPHORA_EXPORT amphora_status amphora_model_run(const amphora_model* model,
                                                const amphora_tensor* inputs, size_t input_count,
                                                amphora_tensor** outputs, size_t* output_count);

/* ---- Vocoder: mel in, waveform out ----------------------------------------------------------- */

typedef struct amphora_vocoder_options {
  size_t struct_size;
  int32_t threads;     /* intra-op threads; 0: all cores */
  int32_t backend;     /* an amphora_backend */
  int32_t sample_rate; /* a bare ONNX file's rate, which it does not carry; 0: the package's */
  int32_t n_mels;      /* mel bins of a bare model that does not declare them; 0: the model's */
  uint64_t noise_seed; /* NSF vocoders' source noise, fixed so that output is reproducible */
} amphora_vocoder_options;

AMPHORA_EXPORT amphora_status amphora_vocoder_options_init_sized(amphora_vocoder_options* options,
                                                                 size_t struct_size);
static inline amphora_status amphora_vocoder_options_init(amphora_vocoder_options* options) {
  return amphora_vocoder_options_init_sized(options, sizeof *options);
}

/* Filled by amphora_vocoder_get_info; the caller sets struct_size to sizeof(amphora_vocoder_info)
 * and the library writes only the fields it covers. */
typedef struct amphora_vocoder_info {
  size_t struct_size;
  int32_t sample_rate;
  int32_t hop_length; /* samples per mel frame */
  int32_t n_mels;
  int32_t needs_f0;   /* 1: an NSF vocoder, which takes f0 with the mel */
  const char* family; /* "hifigan", ..., "onnx" for a bare file; lives as long as the vocoder */
} amphora_vocoder_info;

typedef struct amphora_vocoder amphora_vocoder;
typedef struct amphora_stream amphora_stream;

/* A package directory, an .onnx written by amphora-export, or a bare model whose one input is a
 * mel [1, n_mels, frames]. */
AMPHORA_EXPORT amphora_status amphora_vocoder_load(const char* path,
                                                   const amphora_vocoder_options* options,
                                                   amphora_vocoder** vocoder);
AMPHORA_EXPORT void amphora_vocoder_destroy(amphora_vocoder* vocoder);
AMPHORA_EXPORT amphora_status amphora_vocoder_get_info(const amphora_vocoder* vocoder,
                                                       amphora_vocoder_info* info);

/* mel: float32 [n_mels, frames], row-major (all frames of bin 0, then of bin 1, ...); f0: NULL,
 * or for an NSF vocoder `frames` values in Hz. *samples receives frames * hop_length samples,
 * the caller's to amphora_free. */
AMPHORA_EXPORT amphora_status amphora_vocoder_vocode(const amphora_vocoder* vocoder,
                                                     const float* mel, int64_t n_mels,
                                                     int64_t frames, const float* f0,
                                                     float** samples, size_t* sample_count);

/* A stream of one utterance: push mel frames as they arrive and get back the samples that are
 * final, then finish for the rest. All the pieces joined equal amphora_vocoder_vocode's output
 * (within 1e-4) however the mel is split. The stream keeps what it needs of the vocoder, which
 * may be destroyed first. Fails, naming the layer at fault, for a vocoder that cannot stream. */
AMPHORA_EXPORT amphora_status amphora_stream_create(const amphora_vocoder* vocoder,
                                                    amphora_stream** stream);
AMPHORA_EXPORT void amphora_stream_destroy(amphora_stream* stream);
/* mel: float32 [n_mels, frames] as for vocode, any frames >= 0. *samples may get none (NULL, 0)
 * while the vocoder waits for the frames ahead it needs. */
AMPHORA_EXPORT amphora_status amphora_stream_push(amphora_stream* stream, const float* mel,
                                                  int64_t n_mels, int64_t frames, const float* f0,
                                                  float** samples, size_t* sample_count);
/* Ends the utterance and returns the remaining samples. Push or finish after it fails with
 * AMPHORA_STATUS_MISUSE; destroy the stream and create another for the next utterance. */
AMPHORA_EXPORT amphora_status amphora_stream_finish(amphora_stream* stream, float** samples,
                                                    size_t* sample_count);

/* ---- Synthesizer: English text to speech ----------------------------------------------------- */

typedef struct amphora_speech_options {
  size_t struct_size;
  int64_t speaker;      /* in [0, amphora_synthesizer_speaker_count) */
  float speed;          /* > 1 speaks faster; in (0.1, 10] */
  int32_t stream;       /* 0: audio a sentence at a time; 1: a few mel frames at a time */
  int64_t chunk_frames; /* stream: frames of audio in the first push, >= 1 (later ones double) */
} amphora_speech_options;

AMPHORA_EXPORT amphora_status amphora_speech_options_init_sized(amphora_speech_options* options,
                                                                size_t struct_size);
static inline amphora_status amphora_speech_options_init(amphora_speech_options* options) {
  return amphora_speech_options_init_sized(options, sizeof *options);
}

typedef struct amphora_synthesizer amphora_synthesizer;

/* voice: an acoustic package (`amphora-export acoustic`); vocoder: a vocoder package, or NULL
 * (or "") for a voice that makes the waveform itself. Fails naming the package at fault, e.g. a
 * vocoder whose mel settings differ from the voice's. */
AMPHORA_EXPORT amphora_status amphora_synthesizer_load(const char* voice, const char* vocoder,
                                                       const amphora_options* options,
                                                       amphora_synthesizer** synthesizer);
AMPHORA_EXPORT void amphora_synthesizer_destroy(amphora_synthesizer* synthesizer);
AMPHORA_EXPORT amphora_status
amphora_synthesizer_sample_rate(const amphora_synthesizer* synthesizer, int32_t* sample_rate);
AMPHORA_EXPORT amphora_status
amphora_synthesizer_speaker_count(const amphora_synthesizer* synthesizer, int64_t* speaker_count);

/* Speaks UTF-8 `text` whole: *samples (mono, at the sample rate) is the caller's to amphora_free.
 * Text with nothing to speak fails with AMPHORA_STATUS_INVALID_ARGUMENT. */
AMPHORA_EXPORT amphora_status amphora_synthesizer_speak(const amphora_synthesizer* synthesizer,
                                                        const char* text,
                                                        const amphora_speech_options* options,
                                                        float** samples, size_t* sample_count);

/* Receives audio in order as it is made; `samples` is valid during the call only. Return 0 to go
 * on; anything else stops the speech, and the speak call returns AMPHORA_STATUS_CANCELLED. */
typedef int32_t (*amphora_audio_callback)(const float* samples, size_t sample_count,
                                          void* user_data);

/* Speaks `text`, handing the audio to `callback` a sentence at a time, or with options->stream
 * a few mel frames at a time, so that the first audio comes long before the text is done. An
 * error mid-text comes after the audio of the sentences before it. */
AMPHORA_EXPORT amphora_status amphora_synthesizer_speak_streamed(
    const amphora_synthesizer* synthesizer, const char* text, const amphora_speech_options* options,
    amphora_audio_callback callback, void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* AMPHORA_AMPHORA_H */
