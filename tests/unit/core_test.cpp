#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/parse.h"
#include "mainstream/core/sha256.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, StreamingEqualsOneShotAndFile) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>(i * 31 % 251);
  Sha256 h;
  for (size_t pos = 0; pos < data.size(); pos += 77) h.Update(data.substr(pos, 77));
  std::string streamed = h.HexDigest();
  EXPECT_EQ(streamed, Sha256Hex(data));
  TempDir tmp;
  testing::WriteText(tmp / "f.bin", data);
  EXPECT_EQ(Sha256File(tmp / "f.bin"), streamed);
  EXPECT_THROW(Sha256File(tmp / "missing.bin"), InputError);
}

TEST(Errors, AssertionsAreInternalErrorsNotBadInput) {
  try {
    MS_ASSERT(1 + 1 == 3, "arithmetic broke: {}", 42);
    FAIL();
  } catch (const InputError&) {
    FAIL() << "a broken invariant must not look like bad input (exit 2)";
  } catch (const InternalError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("arithmetic broke: 42 ("), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("core_test.cpp:"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(MS_ASSERT(true, "never"));
  EXPECT_THROW(ThrowInfeasible("budget {} is infeasible", 1), InputError);
}

TEST(AtomicFile, WritesAndLeavesNoTemporaries) {
  TempDir tmp;
  fs::path f = tmp / "sub" / "out.json";
  WriteFileAtomic(f, "first");
  WriteFileAtomic(f, "second");
  EXPECT_EQ(testing::ReadText(f), "second");
  int entries = 0;
  for (auto& e : fs::directory_iterator(f.parent_path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, UncommittedWriterKeepsPreviousFile) {
  TempDir tmp;
  fs::path f = tmp / "out.txt";
  WriteFileAtomic(f, "old");
  {
    AtomicFileWriter w(f);
    w.stream() << "half-written";
    // destroyed without Commit(): as if the process failed mid-way
  }
  EXPECT_EQ(testing::ReadText(f), "old");
  int entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, FailedWriteIsARuntimeErrorAndKeepsTarget) {
  // Simulate a full disk: cap the file size this process may write.
  TempDir tmp;
  fs::path f = tmp / "out.txt";
  WriteFileAtomic(f, "previous result");
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  std::string message;
  try {
    WriteFileAtomic(f, std::string(1 << 20, 'x'));
  } catch (const RuntimeError& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find("out.txt"), std::string::npos) << message;
  EXPECT_EQ(testing::ReadText(f), "previous result");
  int entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "temporary file left behind";
}

// A directory given as an output file: an input error saying so, nothing
// written beside it (msschedule -o DIR used to say "...: Success").
TEST(AtomicFile, ADirectoryIsNotAnOutputFile) {
  TempDir dir;
  fs::create_directories(dir / "out");
  for (const fs::path& target : {dir / "out", fs::path((dir / "out").string() + "/")}) {
    try {
      WriteFileAtomic(target, "x");
      FAIL() << target;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("is a directory; give a file name"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(fs::is_empty(dir / "out"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(AtomicFile, ReplaceDirectorySwapsWholeDirectories) {
  TempDir tmp;
  fs::path target = tmp / "pkg";
  testing::WriteText(target / "a.txt", "old");
  fs::path staged = StagingPath(target);
  testing::WriteText(staged / "b.txt", "new");
  ReplaceDirectory(staged, target);
  EXPECT_FALSE(fs::exists(target / "a.txt"));
  EXPECT_EQ(testing::ReadText(target / "b.txt"), "new");
  EXPECT_FALSE(fs::exists(staged));
}

TEST(JsonView, ErrorsNameFileAndPath) {
  Json j = ParseJson(R"({"a": {"b": [1, 2, {"c": "x"}]}, "n": -3, "s": 5})", "f.json");
  JsonView v(j, "f.json");
  try {
    v.Field("a").Field("b").At(2).Number("c");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "f.json: $.a.b[2].c: expected a number, got \"x\"");
  }
  try {
    v.Field("a").Field("missing");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "f.json: $.a: missing required field \"missing\"");
  }
  try {
    v.NumberIn("n", 0, 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "f.json: $.n: expected a number in [0, 1], got -3");
  }
  EXPECT_THROW(v.String("s"), InputError);
  EXPECT_THROW(v.Field("a").Field("b").At(7), InputError);
}

TEST(JsonView, SchemaVersionIsChecked) {
  Json j = ParseJson(R"({"schema_version": 2})", "x.json");
  try {
    JsonView(j, "x.json").RequireSchema(1, "profile");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("$.schema_version: unsupported schema_version 2"),
              std::string::npos);
  }
  Json none = ParseJson(R"({"a": 1})", "y.json");
  EXPECT_THROW(JsonView(none, "y.json").RequireSchema(1, "profile"), InputError);
}

TEST(JsonIo, MalformedJsonNamesFileAndLine) {
  TempDir tmp;
  testing::WriteText(tmp / "bad.json", "{\n  \"a\": 1,\n  \"b\": \n}\n");
  try {
    ReadJsonFile(tmp / "bad.json");
    FAIL();
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json: malformed JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 4"), std::string::npos) << msg;
  }
  try {
    ReadJsonFile(tmp / "nope.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
}

// Adversarial files: a number beyond double range and 100,000 nested arrays
// are InputErrors naming the file (not nlohmann's bare message, not a crash).
TEST(JsonIo, HugeNumbersAndDeepNestingAreNamedInputErrors) {
  std::string m = testing::InputErrorOf([] { ParseJson(R"({"tpr": 1e999})", "pk/mpackage.json"); });
  EXPECT_NE(m.find("pk/mpackage.json: malformed JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("1e999"), std::string::npos) << m;
  m = testing::InputErrorOf([] { ParseJson(std::string(100000, '['), "deep.json"); });
  EXPECT_NE(m.find("deep.json: malformed JSON: nested deeper than 64 levels"), std::string::npos)
      << m;
  // 64 levels still read; an error about a big value prints a summary, not the value.
  Json ok = ParseJson(std::string(63, '[') + "[1, 2, 3, 4, 5, 6, 7, 8, 9]" + std::string(63, ']'),
                      "ok.json");
  Json inner = ok;
  while (inner.is_array() && inner.size() == 1) inner = Json(inner[0]);
  m = testing::InputErrorOf([&] { JsonView(inner, "ok.json").AsNumber(); });
  EXPECT_NE(m.find("array of 9 elements"), std::string::npos) << m;
}

TEST(Parse, ListsAndRanges) {
  EXPECT_EQ(ParseIntList("1,3-5, 9", "--x"), (std::vector<int>{1, 3, 4, 5, 9}));
  EXPECT_EQ(ParseDoubleList("0.5, 2", "--x"), (std::vector<double>{0.5, 2}));
  EXPECT_EQ(SplitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THROW(ParseIntList("1,x", "--apps"), InputError);
  EXPECT_THROW(ParseIntList("5-2", "--apps"), InputError);
  EXPECT_THROW(ParseDoubleList("nan", "--fps"), InputError);
  EXPECT_THROW(ParseDoubleList("", "--fps"), InputError);
}

TEST(Parse, AssignmentsNameTheFlagAndTheExpectedForm) {
  EXPECT_EQ(ParseAssignment(" gate = rtsp://h/1?a=b ", "--camera-input", "CAMERA=INPUT"),
            (std::pair<std::string, std::string>{"gate", "rtsp://h/1?a=b"}));
  for (const char* bad : {"gate", "=x.avi", "gate=", " = "}) {
    try {
      (void)ParseAssignment(bad, "--camera-input", "CAMERA=INPUT");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--camera-input: expected CAMERA=INPUT, got"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace mainstream
