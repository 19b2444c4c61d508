/* The C ABI from a C program, built against an installed amphora (check_capi.cmake compiles it
 * with the flags of pkg-config's amphora.pc): every function, on its happy path and on misuse --
 * NULL handles and pointers, struct sizes that no version has, bad shapes, a stream pushed after
 * it finished, packages that do not exist.
 *
 * Usage: test_capi SCRATCH_DIR [VOCODER_PACKAGE ACOUSTIC_PACKAGE]
 *   The packages are small random-init exports (a HiFi-GAN vocoder and a FastSpeech2 voice with
 *   the same mel settings); without them only the calls that need no model run.
 */
#include <amphora/amphora.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef AMPHORA_EXPECTED_VERSION
#error "AMPHORA_EXPECTED_VERSION: the version pkg-config gives for amphora (check_capi.cmake)"
#endif

static int failures = 0;
static int checks = 0;

#define CHECK(condition)                                                            \
  do {                                                                              \
    ++checks;                                                                       \
    if (!(condition)) {                                                             \
      ++failures;                                                                   \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #condition); \
    }                                                                               \
  } while (0)

/* Runs `call`, which must return `expected`; a failure must leave a message naming the function
 * and containing `fragment` (NULL: any). */
#define EXPECT_STATUS(call, expected, fragment) \
  expect_status((call), (expected), (fragment), #call, __FILE__, __LINE__)

static void expect_status(amphora_status got, amphora_status expected, const char* fragment,
                          const char* call, const char* file, int line) {
  const char* message = amphora_last_error();
  ++checks;
  if (got != expected) {
    ++failures;
    fprintf(stderr, "%s:%d: %s\n  returned %s, expected %s (last error: %s)\n", file, line, call,
            amphora_status_name(got), amphora_status_name(expected), message);
    return;
  }
  if (expected == AMPHORA_STATUS_OK) return;
  if (strncmp(message, "amphora_", 8) != 0 || (fragment && !strstr(message, fragment))) {
    ++failures;
    fprintf(stderr, "%s:%d: %s\n  message \"%s\" should name the function and say \"%s\"\n", file,
            line, call, message, fragment ? fragment : "");
  }
}

/* Deterministic values in [low, high). */
static unsigned long long random_state = 12345;
static float uniform(float low, float high) {
  random_state = random_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return low + (high - low) * (float)((random_state >> 40) & 0xFFFFFF) / (float)0x1000000;
}

static float* random_mel(int64_t n_mels, int64_t frames) {
  float* mel = malloc((size_t)(n_mels * frames) * sizeof(float));
  int64_t i;
  for (i = 0; i < n_mels * frames; ++i) mel[i] = uniform(-6.0f, 0.0f);
  return mel;
}

/* Columns [start, start + count) of a [n_mels, frames] mel, as its own [n_mels, count] block. */
static float* mel_columns(const float* mel, int64_t n_mels, int64_t frames, int64_t start,
                          int64_t count) {
  float* out = malloc((size_t)(n_mels * count + 1) * sizeof(float));
  int64_t b;
  for (b = 0; b < n_mels; ++b) {
    memcpy(out + b * count, mel + b * frames + start, (size_t)count * sizeof(float));
  }
  return out;
}

static int all_finite(const float* values, size_t count) {
  size_t i;
  for (i = 0; i < count; ++i) {
    if (!isfinite(values[i])) return 0;
  }
  return 1;
}

static float max_difference(const float* a, const float* b, size_t count) {
  float worst = 0.0f;
  size_t i;
  for (i = 0; i < count; ++i) {
    const float d = fabsf(a[i] - b[i]);
    if (d > worst) worst = d;
  }
  return worst;
}

/* ---- Calls that need no model ---------------------------------------------------------------- */

static void test_library(const char* expected_version) {
  int status;
  CHECK(strcmp(amphora_last_error(), "") == 0); /* nothing has failed yet */
  CHECK(amphora_abi_version() == AMPHORA_ABI_VERSION);
  CHECK(strcmp(amphora_version(), expected_version) == 0);
  for (status = AMPHORA_STATUS_OK; status <= AMPHORA_STATUS_CANCELLED; ++status) {
    CHECK(strcmp(amphora_status_name((amphora_status)status), "unknown") != 0);
  }
  CHECK(strcmp(amphora_status_name(AMPHORA_STATUS_MISUSE), "misuse") == 0);
  CHECK(strcmp(amphora_status_name((amphora_status)99), "unknown") == 0);
  amphora_free(NULL);
  amphora_model_destroy(NULL);
  amphora_vocoder_destroy(NULL);
  amphora_stream_destroy(NULL);
  amphora_synthesizer_destroy(NULL);
}

/* An amphora_options as a newer header might have it: more fields after the known ones. */
typedef struct {
  amphora_options known;
  int64_t newer_field;
} newer_options;

static void test_options(void) {
  amphora_options options;
  amphora_vocoder_options vocoder_options;
  amphora_speech_options speech;
  newer_options newer;

  memset(&options, 0x5A, sizeof options);
  EXPECT_STATUS(amphora_options_init(&options), AMPHORA_STATUS_OK, NULL);
  CHECK(options.struct_size == sizeof options);
  CHECK(options.threads == 0 && options.backend == AMPHORA_BACKEND_NATIVE);
  EXPECT_STATUS(amphora_options_init(NULL), AMPHORA_STATUS_NULL_ARGUMENT, "options is NULL");
  EXPECT_STATUS(amphora_options_init_sized(&options, 0), AMPHORA_STATUS_MISUSE, "struct_size is 0");
  EXPECT_STATUS(amphora_options_init_sized(&options, sizeof(size_t)), AMPHORA_STATUS_MISUSE,
                "amphora_options_init");
  EXPECT_STATUS(amphora_options_init_sized(&options, (size_t)1 << 40), AMPHORA_STATUS_MISUSE, NULL);
  /* A newer caller's larger struct: the known fields get their defaults, the rest zeros. */
  memset(&newer, 0x5A, sizeof newer);
  EXPECT_STATUS(amphora_options_init_sized(&newer.known, sizeof newer), AMPHORA_STATUS_OK, NULL);
  CHECK(newer.known.struct_size == sizeof newer && newer.newer_field == 0);

  EXPECT_STATUS(amphora_vocoder_options_init(&vocoder_options), AMPHORA_STATUS_OK, NULL);
  CHECK(vocoder_options.struct_size == sizeof vocoder_options);
  CHECK(vocoder_options.sample_rate == 0 && vocoder_options.n_mels == 0 &&
        vocoder_options.noise_seed == 0);
  EXPECT_STATUS(amphora_vocoder_options_init(NULL), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_vocoder_options_init_sized(&vocoder_options, 12), AMPHORA_STATUS_MISUSE,
                "amphora_vocoder_options");

  EXPECT_STATUS(amphora_speech_options_init(&speech), AMPHORA_STATUS_OK, NULL);
  CHECK(speech.struct_size == sizeof speech);
  CHECK(speech.speaker == 0 && speech.speed == 1.0f && speech.stream == 0 &&
        speech.chunk_frames == 16);
  EXPECT_STATUS(amphora_speech_options_init(NULL), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_speech_options_init_sized(&speech, 0), AMPHORA_STATUS_MISUSE, NULL);
}

static void test_missing_packages(const char* scratch) {
  char missing[4096];
  amphora_model* model = (amphora_model*)&model; /* not NULL: a failed load must clear it */
  amphora_vocoder* vocoder = (amphora_vocoder*)&vocoder;
  amphora_synthesizer* synthesizer = (amphora_synthesizer*)&synthesizer;
  snprintf(missing, sizeof missing, "%s/no-such-package", scratch);

  EXPECT_STATUS(amphora_model_load(missing, NULL, &model), AMPHORA_STATUS_IO, "no-such-package");
  CHECK(model == NULL);
  EXPECT_STATUS(amphora_vocoder_load(missing, NULL, &vocoder), AMPHORA_STATUS_IO,
                "no-such-package");
  CHECK(vocoder == NULL);
  /* The voice is read first; a directory without amphora.json is not an acoustic package. */
  EXPECT_STATUS(amphora_synthesizer_load(missing, missing, NULL, &synthesizer),
                AMPHORA_STATUS_INVALID_ARGUMENT, "no-such-package");
  CHECK(synthesizer == NULL);

  EXPECT_STATUS(amphora_model_load(NULL, NULL, &model), AMPHORA_STATUS_NULL_ARGUMENT,
                "path is NULL");
  EXPECT_STATUS(amphora_model_load(missing, NULL, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                "model is NULL");
  EXPECT_STATUS(amphora_vocoder_load(NULL, NULL, &vocoder), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_vocoder_load(missing, NULL, NULL), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_synthesizer_load(NULL, NULL, NULL, &synthesizer),
                AMPHORA_STATUS_NULL_ARGUMENT, "voice is NULL");
  EXPECT_STATUS(amphora_synthesizer_load(missing, NULL, NULL, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                NULL);
}

/* Every call on a NULL handle: a status, never a crash. */
static void test_null_handles(void) {
  size_t count = 7;
  const char* name = "x";
  amphora_dtype dtype;
  amphora_tensor* outputs = (amphora_tensor*)&outputs;
  amphora_vocoder_info info;
  float* samples = (float*)&samples;
  amphora_stream* stream = (amphora_stream*)&stream;
  int32_t rate = 1;
  int64_t speakers = 1;
  float mel[4] = {0, 0, 0, 0};

  EXPECT_STATUS(amphora_model_input_count(NULL, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "model is NULL");
  CHECK(count == 0);
  EXPECT_STATUS(amphora_model_output_count(NULL, &count), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_model_input(NULL, 0, &name, &dtype), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  CHECK(name == NULL);
  EXPECT_STATUS(amphora_model_output(NULL, 0, &name, &dtype), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_model_run(NULL, NULL, 0, &outputs, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "model is NULL");
  CHECK(outputs == NULL && count == 0);

  info.struct_size = sizeof info;
  EXPECT_STATUS(amphora_vocoder_get_info(NULL, &info), AMPHORA_STATUS_NULL_ARGUMENT,
                "vocoder is NULL");
  EXPECT_STATUS(amphora_vocoder_vocode(NULL, mel, 2, 2, NULL, &samples, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, "vocoder is NULL");
  CHECK(samples == NULL && count == 0);
  EXPECT_STATUS(amphora_stream_create(NULL, &stream), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  CHECK(stream == NULL);
  EXPECT_STATUS(amphora_stream_push(NULL, mel, 2, 2, NULL, &samples, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, "stream is NULL");
  EXPECT_STATUS(amphora_stream_finish(NULL, &samples, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "stream is NULL");

  EXPECT_STATUS(amphora_synthesizer_sample_rate(NULL, &rate), AMPHORA_STATUS_NULL_ARGUMENT,
                "synthesizer is NULL");
  CHECK(rate == 0);
  EXPECT_STATUS(amphora_synthesizer_speaker_count(NULL, &speakers), AMPHORA_STATUS_NULL_ARGUMENT,
                NULL);
  EXPECT_STATUS(amphora_synthesizer_speak(NULL, "Hello.", NULL, &samples, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_synthesizer_speak_streamed(NULL, "Hello.", NULL, NULL, NULL),
                AMPHORA_STATUS_NULL_ARGUMENT, NULL);
}

/* ---- Model: the vocoder's package (float32) and the voice's (int64 in and out) ----------------
 */

static void test_model_vocoder_graph(const char* package, const amphora_vocoder_info* info) {
  amphora_model* model = NULL;
  amphora_options options;
  size_t inputs = 0, outputs = 0, count = 0;
  const char* name = NULL;
  amphora_dtype dtype = AMPHORA_DTYPE_BOOL;
  amphora_tensor input, twice[2];
  amphora_tensor* result = NULL;
  const int64_t frames = 9;
  int64_t shape[3], wrong_rank[2], huge[3];
  float* mel;

  amphora_options_init(&options);
  options.threads = 1;
  EXPECT_STATUS(amphora_model_load(package, &options, &model), AMPHORA_STATUS_OK, NULL);
  if (!model) return;
  EXPECT_STATUS(amphora_model_input_count(model, &inputs), AMPHORA_STATUS_OK, NULL);
  EXPECT_STATUS(amphora_model_output_count(model, &outputs), AMPHORA_STATUS_OK, NULL);
  CHECK(inputs == 1 && outputs == 1);
  EXPECT_STATUS(amphora_model_input(model, 0, &name, &dtype), AMPHORA_STATUS_OK, NULL);
  CHECK(name && strcmp(name, "mel") == 0 && dtype == AMPHORA_DTYPE_FLOAT32);
  EXPECT_STATUS(amphora_model_output(model, 0, &name, NULL), AMPHORA_STATUS_OK, NULL);
  CHECK(name && strcmp(name, "audio") == 0);
  EXPECT_STATUS(amphora_model_input(model, 1, &name, &dtype), AMPHORA_STATUS_OUT_OF_RANGE,
                "input 1 does not exist");
  CHECK(name == NULL);
  EXPECT_STATUS(amphora_model_output(model, 5, &name, &dtype), AMPHORA_STATUS_OUT_OF_RANGE, NULL);
  EXPECT_STATUS(amphora_model_input(model, 0, NULL, NULL), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_model_input_count(model, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                "count is NULL");

  /* Room for the larger shapes and dtypes the misuse below declares, so that each is refused
   * for what it says, not read past the buffer. */
  mel = random_mel(2 * (info->n_mels + 1), frames);
  shape[0] = 1;
  shape[1] = info->n_mels;
  shape[2] = frames;
  input.name = "mel";
  input.dtype = AMPHORA_DTYPE_FLOAT32;
  input.rank = 3;
  input.shape = shape;
  input.data = mel;
  input.data_size = (size_t)(info->n_mels * frames) * sizeof(float);
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count), AMPHORA_STATUS_OK, NULL);
  CHECK(result != NULL && count == 1);
  if (result && count == 1) {
    CHECK(strcmp(result[0].name, "audio") == 0);
    CHECK(result[0].dtype == AMPHORA_DTYPE_FLOAT32 && result[0].rank == 3);
    CHECK(result[0].shape[0] == 1 && result[0].shape[1] == 1);
    CHECK(result[0].shape[2] == frames * info->hop_length);
    CHECK(result[0].data_size == (size_t)result[0].shape[2] * sizeof(float));
    CHECK(((uintptr_t)result[0].data % 64) == 0);
    CHECK(all_finite(result[0].data, (size_t)result[0].shape[2]));
  }
  amphora_free(result);

  /* Misuse: each leaves the outputs NULL. */
  wrong_rank[0] = info->n_mels;
  wrong_rank[1] = frames;
  input.rank = 2;
  input.shape = wrong_rank;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "mel");
  CHECK(result == NULL && count == 0);
  input.rank = 3;
  input.shape = shape;
  input.data_size -= sizeof(float);
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "does not describe the data");
  input.data_size += sizeof(float);
  shape[1] = info->n_mels + 1;
  input.data_size = (size_t)((info->n_mels + 1) * frames) * sizeof(float);
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, NULL); /* the graph takes n_mels bins */
  shape[1] = info->n_mels;
  input.data_size = (size_t)(info->n_mels * frames) * sizeof(float);
  input.dtype = 42;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "not an amphora_dtype");
  input.dtype = AMPHORA_DTYPE_INT64;
  input.data_size *= 2;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "int64");
  input.data_size /= 2;
  input.dtype = AMPHORA_DTYPE_FLOAT32;
  input.name = "spectrogram";
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "spectrogram");
  input.name = NULL;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "inputs[0].name is NULL");
  input.name = "mel";
  twice[0] = input;
  twice[1] = input;
  EXPECT_STATUS(amphora_model_run(model, twice, 2, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "given twice");
  EXPECT_STATUS(amphora_model_run(model, NULL, 0, &result, &count), AMPHORA_STATUS_INVALID_ARGUMENT,
                "missing input 'mel'");
  EXPECT_STATUS(amphora_model_run(model, NULL, 1, &result, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "inputs is NULL");
  EXPECT_STATUS(amphora_model_run(model, &input, 1, NULL, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "outputs is NULL");
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                "output_count is NULL");
  input.shape = NULL;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "shape is NULL");
  input.shape = shape;
  input.data = NULL;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count), AMPHORA_STATUS_NULL_ARGUMENT,
                "data is NULL");
  input.data = mel;
  shape[2] = -frames;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "negative");
  shape[2] = frames;
  input.rank = -1;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "rank -1");
  huge[0] = (int64_t)1 << 40;
  huge[1] = (int64_t)1 << 40;
  huge[2] = 1;
  input.rank = 3;
  input.shape = huge;
  EXPECT_STATUS(amphora_model_run(model, &input, 1, &result, &count), AMPHORA_STATUS_OUT_OF_RANGE,
                NULL);
  CHECK(result == NULL && count == 0);

  free(mel);
  amphora_model_destroy(model);
}

static void test_model_voice_graph(const char* package) {
  amphora_model* model = NULL;
  amphora_tensor inputs[5];
  amphora_tensor* result = NULL;
  size_t count = 0, i, input_count = 0;
  const int64_t phone_ids[6] = {3, 7, 12, 5, 9, 4};
  const int64_t tokens = 6, batch = 1;
  const int64_t ids_shape[2] = {1, 6};
  const int64_t one[1] = {1};
  const float control = 1.0f;
  const char* names[5] = {"phone_ids", "phone_lengths", "duration_control", "pitch_control",
                          "energy_control"};

  EXPECT_STATUS(amphora_model_load(package, NULL, &model), AMPHORA_STATUS_OK, NULL);
  if (!model) return;
  EXPECT_STATUS(amphora_model_input_count(model, &input_count), AMPHORA_STATUS_OK, NULL);
  CHECK(input_count == 5);
  for (i = 0; i < 5; ++i) {
    inputs[i].name = names[i];
    inputs[i].rank = 1;
    inputs[i].shape = one;
    inputs[i].dtype = AMPHORA_DTYPE_FLOAT32;
    inputs[i].data = &control;
    inputs[i].data_size = sizeof control;
  }
  inputs[0].dtype = AMPHORA_DTYPE_INT64;
  inputs[0].rank = 2;
  inputs[0].shape = ids_shape;
  inputs[0].data = phone_ids;
  inputs[0].data_size = sizeof phone_ids;
  inputs[1].dtype = AMPHORA_DTYPE_INT64;
  inputs[1].data = &tokens;
  inputs[1].data_size = sizeof tokens;
  /* Given in another order than the model's: they are matched by name. */
  {
    amphora_tensor swap = inputs[0];
    inputs[0] = inputs[4];
    inputs[4] = swap;
  }
  EXPECT_STATUS(amphora_model_run(model, inputs, 5, &result, &count), AMPHORA_STATUS_OK, NULL);
  CHECK(count == 3);
  if (result && count == 3) {
    const int64_t* mel_lengths = result[1].data;
    const int64_t* durations = result[2].data;
    int64_t frames = 0;
    CHECK(strcmp(result[0].name, "mel") == 0 && result[0].dtype == AMPHORA_DTYPE_FLOAT32);
    CHECK(strcmp(result[1].name, "mel_lengths") == 0 && result[1].dtype == AMPHORA_DTYPE_INT64);
    CHECK(strcmp(result[2].name, "durations") == 0 && result[2].dtype == AMPHORA_DTYPE_INT64);
    CHECK(result[0].rank == 3 && result[0].shape[0] == batch);
    CHECK(result[2].rank == 2 && result[2].shape[1] == tokens);
    for (i = 0; i < (size_t)tokens; ++i) frames += durations[i];
    CHECK(mel_lengths[0] == frames && result[0].shape[2] >= frames);
  }
  amphora_free(result);
  amphora_model_destroy(model);
}

/* ---- Vocoder, offline and streaming ---------------------------------------------------------- */

typedef struct {
  amphora_vocoder_info known;
  int64_t newer_fields[4];
} newer_info;

static void test_vocoder(const char* package, amphora_vocoder_info* info_out) {
  amphora_vocoder* vocoder = NULL;
  amphora_vocoder_options options;
  amphora_vocoder_info info;
  newer_info newer;
  struct {
    amphora_vocoder_options known;
    uint64_t newer_field;
  } newer_options;
  amphora_stream* stream = NULL;
  float *mel, *offline = NULL, *streamed, *samples = NULL;
  size_t offline_count = 0, streamed_count = 0, count = 0;
  const int64_t frames = 37;
  const int64_t pushes[] = {1, 5, 0, 7, 3, 21};
  int64_t at = 0;
  size_t p;

  amphora_vocoder_options_init(&options);
  options.struct_size = 0;
  EXPECT_STATUS(amphora_vocoder_load(package, &options, &vocoder), AMPHORA_STATUS_MISUSE,
                "struct_size is 0");
  options.struct_size = sizeof(size_t) + 4;
  EXPECT_STATUS(amphora_vocoder_load(package, &options, &vocoder), AMPHORA_STATUS_MISUSE, NULL);
  amphora_vocoder_options_init(&options);
  options.backend = 7;
  EXPECT_STATUS(amphora_vocoder_load(package, &options, &vocoder), AMPHORA_STATUS_INVALID_ARGUMENT,
                "backend 7");
  options.backend = AMPHORA_BACKEND_NATIVE;
  options.threads = -1;
  EXPECT_STATUS(amphora_vocoder_load(package, &options, &vocoder), AMPHORA_STATUS_INVALID_ARGUMENT,
                "threads is -1");
  CHECK(vocoder == NULL);
  /* A newer caller's struct: accepted while its unknown fields are zero, refused when set. */
  amphora_vocoder_options_init_sized(&newer_options.known, sizeof newer_options);
  newer_options.newer_field = 3;
  EXPECT_STATUS(amphora_vocoder_load(package, &newer_options.known, &vocoder),
                AMPHORA_STATUS_UNSUPPORTED, "does not know");
  newer_options.newer_field = 0;
  newer_options.known.threads = 2;
  EXPECT_STATUS(amphora_vocoder_load(package, &newer_options.known, &vocoder), AMPHORA_STATUS_OK,
                NULL);
  if (!vocoder) return;

  info.struct_size = sizeof info;
  EXPECT_STATUS(amphora_vocoder_get_info(vocoder, &info), AMPHORA_STATUS_OK, NULL);
  CHECK(info.struct_size == sizeof info);
  CHECK(info.sample_rate == 16000 && info.hop_length > 0 && info.n_mels > 0);
  CHECK(info.needs_f0 == 0 && info.family && strcmp(info.family, "hifigan") == 0);
  *info_out = info;
  memset(&newer, 0x5A, sizeof newer);
  newer.known.struct_size = sizeof newer;
  EXPECT_STATUS(amphora_vocoder_get_info(vocoder, &newer.known), AMPHORA_STATUS_OK, NULL);
  CHECK(newer.known.struct_size == sizeof newer && newer.known.n_mels == info.n_mels);
  CHECK(newer.newer_fields[0] == 0 && newer.newer_fields[3] == 0);
  info.struct_size = 0;
  EXPECT_STATUS(amphora_vocoder_get_info(vocoder, &info), AMPHORA_STATUS_MISUSE, NULL);
  EXPECT_STATUS(amphora_vocoder_get_info(vocoder, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                "info is NULL");

  mel = random_mel(info_out->n_mels, frames);
  EXPECT_STATUS(amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, frames, NULL, &offline,
                                       &offline_count),
                AMPHORA_STATUS_OK, NULL);
  CHECK(offline != NULL && offline_count == (size_t)(frames * info_out->hop_length));
  CHECK(offline && all_finite(offline, offline_count));

  EXPECT_STATUS(
      amphora_vocoder_vocode(vocoder, mel, info_out->n_mels - 1, frames, NULL, &samples, &count),
      AMPHORA_STATUS_INVALID_ARGUMENT, "bins");
  CHECK(samples == NULL && count == 0);
  EXPECT_STATUS(amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, 0, NULL, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "no frames");
  EXPECT_STATUS(amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, -3, NULL, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "frames >= 0");
  EXPECT_STATUS(amphora_vocoder_vocode(vocoder, mel, 0, frames, NULL, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "n_mels >= 1");
  EXPECT_STATUS(
      amphora_vocoder_vocode(vocoder, mel, 1 << 20, (int64_t)1 << 40, NULL, &samples, &count),
      AMPHORA_STATUS_OUT_OF_RANGE, NULL);
  EXPECT_STATUS(
      amphora_vocoder_vocode(vocoder, NULL, info_out->n_mels, frames, NULL, &samples, &count),
      AMPHORA_STATUS_NULL_ARGUMENT, "mel is NULL");
  EXPECT_STATUS(
      amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, frames, mel, &samples, &count),
      AMPHORA_STATUS_INVALID_ARGUMENT, "takes no f0");
  EXPECT_STATUS(amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, frames, NULL, NULL, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, "samples is NULL");
  EXPECT_STATUS(
      amphora_vocoder_vocode(vocoder, mel, info_out->n_mels, frames, NULL, &samples, NULL),
      AMPHORA_STATUS_NULL_ARGUMENT, "sample_count is NULL");

  /* Streaming in uneven pushes (one empty) equals the offline output. The stream outlives its
   * vocoder. */
  EXPECT_STATUS(amphora_stream_create(vocoder, NULL), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_stream_create(vocoder, &stream), AMPHORA_STATUS_OK, NULL);
  amphora_vocoder_destroy(vocoder);
  if (!stream) {
    free(mel);
    amphora_free(offline);
    return;
  }
  streamed = malloc((offline_count + 1) * sizeof(float));
  for (p = 0; p < sizeof pushes / sizeof pushes[0]; ++p) {
    float* chunk = mel_columns(mel, info_out->n_mels, frames, at, pushes[p]);
    EXPECT_STATUS(
        amphora_stream_push(stream, chunk, info_out->n_mels, pushes[p], NULL, &samples, &count),
        AMPHORA_STATUS_OK, NULL);
    CHECK(streamed_count + count <= offline_count);
    if (samples && streamed_count + count <= offline_count) {
      memcpy(streamed + streamed_count, samples, count * sizeof(float));
      streamed_count += count;
    }
    CHECK((samples == NULL) == (count == 0));
    amphora_free(samples);
    free(chunk);
    at += pushes[p];
  }
  CHECK(at == frames);
  EXPECT_STATUS(amphora_stream_push(stream, mel, info_out->n_mels + 2, 1, NULL, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "bins");
  EXPECT_STATUS(amphora_stream_finish(stream, NULL, &count), AMPHORA_STATUS_NULL_ARGUMENT, NULL);
  EXPECT_STATUS(amphora_stream_finish(stream, &samples, &count), AMPHORA_STATUS_OK, NULL);
  CHECK(streamed_count + count == offline_count);
  if (samples && streamed_count + count == offline_count) {
    memcpy(streamed + streamed_count, samples, count * sizeof(float));
    streamed_count += count;
  }
  amphora_free(samples);
  CHECK(streamed_count == offline_count);
  if (offline && streamed_count == offline_count) {
    const float worst = max_difference(offline, streamed, offline_count);
    CHECK(worst <= 1e-4f);
    printf("streamed %zu samples in %zu pushes: max |stream - offline| = %g\n", streamed_count,
           sizeof pushes / sizeof pushes[0], (double)worst);
  }

  /* After finish: a status, no samples, and the stream still destroys cleanly. */
  EXPECT_STATUS(amphora_stream_push(stream, mel, info_out->n_mels, 1, NULL, &samples, &count),
                AMPHORA_STATUS_MISUSE, "after amphora_stream_finish");
  CHECK(samples == NULL && count == 0);
  EXPECT_STATUS(amphora_stream_finish(stream, &samples, &count), AMPHORA_STATUS_MISUSE,
                "finished already");
  amphora_stream_destroy(stream);

  free(streamed);
  free(mel);
  amphora_free(offline);
}

static void test_stream_without_frames(const char* package) {
  amphora_vocoder* vocoder = NULL;
  amphora_stream* stream = NULL;
  float* samples = NULL;
  size_t count = 0;
  EXPECT_STATUS(amphora_vocoder_load(package, NULL, &vocoder), AMPHORA_STATUS_OK, NULL);
  EXPECT_STATUS(amphora_stream_create(vocoder, &stream), AMPHORA_STATUS_OK, NULL);
  EXPECT_STATUS(amphora_stream_finish(stream, &samples, &count), AMPHORA_STATUS_INVALID_ARGUMENT,
                "before any mel frame");
  EXPECT_STATUS(amphora_stream_finish(stream, &samples, &count), AMPHORA_STATUS_MISUSE, NULL);
  amphora_stream_destroy(stream);
  amphora_vocoder_destroy(vocoder);
}

/* ---- Synthesizer ------------------------------------------------------------------------------
 */

typedef struct {
  float* samples;
  size_t count, capacity;
  int calls;
  int stop_after; /* calls; 0: never */
} collected_audio;

static int32_t collect(const float* samples, size_t count, void* user_data) {
  collected_audio* audio = user_data;
  if (audio->count + count > audio->capacity) {
    audio->capacity = 2 * (audio->count + count);
    audio->samples = realloc(audio->samples, audio->capacity * sizeof(float));
  }
  memcpy(audio->samples + audio->count, samples, count * sizeof(float));
  audio->count += count;
  ++audio->calls;
  return audio->stop_after > 0 && audio->calls >= audio->stop_after ? 1 : 0;
}

static void test_synthesizer(const char* voice, const char* vocoder_package,
                             const amphora_vocoder_info* vocoder_info) {
  const char* text = "Hello there. The quick brown fox jumps over the lazy dog.";
  amphora_synthesizer* synthesizer = NULL;
  amphora_speech_options speech;
  float* whole = NULL;
  size_t whole_count = 0;
  int32_t rate = 0;
  int64_t speakers = 0;
  collected_audio streamed = {NULL, 0, 0, 0, 0};
  collected_audio stopped = {NULL, 0, 0, 0, 1};
  float* samples = NULL;
  size_t count = 0;

  EXPECT_STATUS(amphora_synthesizer_load(voice, NULL, NULL, &synthesizer),
                AMPHORA_STATUS_INVALID_ARGUMENT, "give a vocoder package");
  EXPECT_STATUS(amphora_synthesizer_load(vocoder_package, vocoder_package, NULL, &synthesizer),
                AMPHORA_STATUS_INVALID_ARGUMENT, "not an acoustic model");
  CHECK(synthesizer == NULL);
  EXPECT_STATUS(amphora_synthesizer_load(voice, vocoder_package, NULL, &synthesizer),
                AMPHORA_STATUS_OK, NULL);
  if (!synthesizer) return;
  EXPECT_STATUS(amphora_synthesizer_sample_rate(synthesizer, &rate), AMPHORA_STATUS_OK, NULL);
  CHECK(rate == vocoder_info->sample_rate);
  EXPECT_STATUS(amphora_synthesizer_sample_rate(synthesizer, NULL), AMPHORA_STATUS_NULL_ARGUMENT,
                NULL);
  EXPECT_STATUS(amphora_synthesizer_speaker_count(synthesizer, &speakers), AMPHORA_STATUS_OK, NULL);
  CHECK(speakers == 1);

  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, text, NULL, &whole, &whole_count),
                AMPHORA_STATUS_OK, NULL);
  CHECK(whole != NULL && whole_count > (size_t)rate / 10);
  CHECK(whole && all_finite(whole, whole_count));
  printf("spoke %zu samples (%.2f s at %d Hz)\n", whole_count, (double)whole_count / rate, rate);

  /* Streamed: a few mel frames at a time, the same audio as the whole text's. */
  amphora_speech_options_init(&speech);
  speech.stream = 1;
  speech.chunk_frames = 8;
  EXPECT_STATUS(amphora_synthesizer_speak_streamed(synthesizer, text, &speech, collect, &streamed),
                AMPHORA_STATUS_OK, NULL);
  CHECK(streamed.calls > 2);
  CHECK(streamed.count == whole_count);
  if (whole && streamed.count == whole_count) {
    const float worst = max_difference(whole, streamed.samples, whole_count);
    CHECK(worst <= 1e-4f);
    printf("streamed speech in %d pieces: max |streamed - whole| = %g\n", streamed.calls,
           (double)worst);
  }
  /* The callback stops it. */
  EXPECT_STATUS(amphora_synthesizer_speak_streamed(synthesizer, text, &speech, collect, &stopped),
                AMPHORA_STATUS_CANCELLED, "returned 1");
  CHECK(stopped.calls == 1);

  EXPECT_STATUS(amphora_synthesizer_speak_streamed(synthesizer, text, &speech, NULL, NULL),
                AMPHORA_STATUS_NULL_ARGUMENT, "callback is NULL");
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, NULL, NULL, &samples, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, "text is NULL");
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, text, NULL, NULL, &count),
                AMPHORA_STATUS_NULL_ARGUMENT, "samples is NULL");
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, "...", NULL, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "nothing to speak");
  CHECK(samples == NULL && count == 0);
  amphora_speech_options_init(&speech);
  speech.speaker = 3;
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, text, &speech, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "speaker 3");
  amphora_speech_options_init(&speech);
  speech.speed = 0.0f;
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, text, &speech, &samples, &count),
                AMPHORA_STATUS_INVALID_ARGUMENT, "speed");
  amphora_speech_options_init(&speech);
  speech.struct_size = 0;
  EXPECT_STATUS(amphora_synthesizer_speak(synthesizer, text, &speech, &samples, &count),
                AMPHORA_STATUS_MISUSE, "amphora_speech_options");
  EXPECT_STATUS(amphora_synthesizer_speak_streamed(synthesizer, text, &speech, collect, &stopped),
                AMPHORA_STATUS_MISUSE, NULL);
  CHECK(samples == NULL);

  free(streamed.samples);
  free(stopped.samples);
  amphora_free(whole);
  amphora_synthesizer_destroy(synthesizer);
}

int main(int argc, char** argv) {
  amphora_vocoder_info vocoder_info;
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: %s SCRATCH_DIR [VOCODER_PACKAGE ACOUSTIC_PACKAGE]\n", argv[0]);
    return 2;
  }
  printf("libamphora %s, C ABI %d\n", amphora_version(), (int)amphora_abi_version());
  test_library(AMPHORA_EXPECTED_VERSION);
  test_options();
  test_missing_packages(argv[1]);
  test_null_handles();
  if (argc == 4) {
    memset(&vocoder_info, 0, sizeof vocoder_info);
    test_vocoder(argv[2], &vocoder_info);
    if (vocoder_info.n_mels > 0) {
      test_model_vocoder_graph(argv[2], &vocoder_info);
      test_stream_without_frames(argv[2]);
      test_model_voice_graph(argv[3]);
      test_synthesizer(argv[3], argv[2], &vocoder_info);
    }
  }
  printf("%d checks, %d failed%s\n", checks, failures,
         argc == 4 ? "" : " (no packages: the calls that need a model did not run)");
  return failures == 0 ? 0 : 1;
}
