#include "mainstream/model/micro_head.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "mainstream/core/error.h"
#include "mainstream/model/base_info.h"

namespace mainstream {

namespace {

std::vector<float> ToFloats(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return {p, p + c.numel()};
}

}  // namespace

// The module: its forward takes the whole feature map [batch, C, H, W] and
// crops it (a view), then 1x1 conv + ReLU + flatten + dropout + linear to two
// logits. The head is the module's only child, so that mstrain trains it at
// head_lr.
torch::jit::Module BuildMicroModule(const std::vector<int64_t>& map_shape, const MicroCrop& crop,
                                    int channels, double dropout, uint64_t seed) {
  MS_CHECK(map_shape.size() == 3 && !crop.empty() && channels >= 1,
           "microclassifier: map {}, crop [{}, {}) x [{}, {}), {} channels",
           ShapeToString(map_shape), crop.x0, crop.x1, crop.y0, crop.y1, channels);
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  auto make = [&](const std::string& name) {
    torch::jit::Module m(c10::QualifiedName("__torch__.mainstream.train." + name), cu,
                         /*shouldMangle=*/true);
    m.register_attribute("training", c10::BoolType::get(), false);
    return m;
  };
  const int64_t c = map_shape[0], k = channels;
  const int64_t area = static_cast<int64_t>(crop.width()) * crop.height();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::jit::Module head = make("MicroHead");
  head.register_parameter("reduce_weight",
                          at::randn({k, c, 1, 1}, gen) * std::sqrt(2.0 / static_cast<double>(c)),
                          false);
  head.register_parameter("reduce_bias", at::zeros({k}), false);
  head.register_parameter("weight", at::randn({2, k * area}, gen) * 0.01, false);
  head.register_parameter("bias", at::zeros({2}), false);
  head.define(
      fmt::format("def forward(self, x):\n"
                  "    x = x[:, :, {}:{}, {}:{}]\n"
                  "    x = torch.conv2d(x, self.reduce_weight, self.reduce_bias)\n"
                  "    x = torch.relu(x)\n"
                  "    x = torch.flatten(x, 1)\n"
                  "    x = torch.dropout(x, {:.6f}, self.training)\n"
                  "    return torch.linear(x, self.weight, self.bias)\n",
                  crop.y0, crop.y1, crop.x0, crop.x1, dropout));
  torch::jit::Module m = make("AppMicro");
  m.register_module("app_head", head);
  m.define("def forward(self, x):\n    return self.app_head.forward(x)\n");
  for (at::Tensor p : m.parameters()) p.set_requires_grad(true);
  m.eval();
  return m;
}

MicroHead MicroHead::FromModule(const torch::jit::Module& module, const MicroCrop& crop,
                                const std::vector<int64_t>& map_shape, const std::string& origin) {
  MS_CHECK(map_shape.size() == 3, "{}: a microclassifier needs a feature map [C, H, W], not {}",
           origin, ShapeToString(map_shape));
  const int64_t c = map_shape[0], h = map_shape[1], w = map_shape[2];
  MS_CHECK(!crop.empty() && crop.x0 >= 0 && crop.y0 >= 0 && crop.x1 <= w && crop.y1 <= h,
           "{}: crop [{}, {}) x [{}, {}) does not lie inside the {}x{} feature map", origin,
           crop.x0, crop.x1, crop.y0, crop.y1, w, h);
  std::map<std::string, at::Tensor> params;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) params[p.name] = p.value;
  auto get = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const auto it = params.find("app_head." + name);
    MS_CHECK(it != params.end(),
             "{}: no parameter app_head.{}: not a microclassifier as mstrain makes them", origin,
             name);
    const std::vector<int64_t> got(it->second.sizes().begin(), it->second.sizes().end());
    MS_CHECK(got == shape, "{}: parameter app_head.{} has shape {}, expected {}", origin, name,
             ShapeToString(got), ShapeToString(shape));
    return ToFloats(it->second);
  };
  const auto rw = params.find("app_head.reduce_weight");
  MS_CHECK(rw != params.end() && rw->second.dim() == 4,
           "{}: no 4-d parameter app_head.reduce_weight: not a microclassifier as mstrain makes "
           "them",
           origin);
  const int64_t k = rw->second.size(0);
  const int64_t area = static_cast<int64_t>(crop.width()) * crop.height();
  MicroHead m;
  m.crop_ = crop;
  m.c_ = c;
  m.h_ = h;
  m.w_ = w;
  m.k_ = static_cast<int>(k);
  m.reduce_w_ = get("reduce_weight", {k, c, 1, 1});
  m.reduce_b_ = get("reduce_bias", {k});
  m.linear_w_ = get("weight", {2, k * area});
  const std::vector<float> b = get("bias", {2});
  m.linear_b_[0] = b[0];
  m.linear_b_[1] = b[1];
  return m;
}

int64_t MicroHead::macs() const {
  const int64_t area = static_cast<int64_t>(crop_.width()) * crop_.height();
  return k_ * area * (c_ + 2);
}

void MicroHead::Run(const float* map, float* logits) const {
  const int cw = crop_.width(), ch = crop_.height(), area = cw * ch;
  thread_local std::vector<float> acc;
  acc.resize(static_cast<size_t>(area));
  float* a = acc.data();
  float l0 = linear_b_[0], l1 = linear_b_[1];
  const size_t plane = static_cast<size_t>(h_ * w_);
  for (int o = 0; o < k_; ++o) {
    std::fill(a, a + area, reduce_b_[static_cast<size_t>(o)]);
    const float* wo = reduce_w_.data() + static_cast<size_t>(o) * static_cast<size_t>(c_);
    for (int64_t c = 0; c < c_; ++c) {
      const float wc = wo[c];
      const float* rows = map + static_cast<size_t>(c) * plane;
      for (int y = 0; y < ch; ++y) {
        const float* row = rows + static_cast<size_t>(crop_.y0 + y) * static_cast<size_t>(w_) +
                           static_cast<size_t>(crop_.x0);
        float* ar = a + static_cast<size_t>(y) * static_cast<size_t>(cw);
        for (int x = 0; x < cw; ++x) ar[x] += wc * row[x];
      }
    }
    const float* w0 = linear_w_.data() + static_cast<size_t>(o) * static_cast<size_t>(area);
    const float* w1 = w0 + static_cast<size_t>(k_) * static_cast<size_t>(area);
    float s0 = 0, s1 = 0;
    for (int i = 0; i < area; ++i) {
      const float v = std::max(a[i], 0.0F);
      s0 += w0[i] * v;
      s1 += w1[i] * v;
    }
    l0 += s0;
    l1 += s1;
  }
  logits[0] = l0;
  logits[1] = l1;
}

at::Tensor MicroHead::Forward(const at::Tensor& x) const {
  at::Tensor d = x.is_mkldnn() ? x.to_dense() : x;
  d = d.to(at::kFloat).contiguous();
  MS_CHECK(d.dim() == 4 && d.size(1) == c_ && d.size(2) == h_ && d.size(3) == w_,
           "microclassifier: input of shape {}, expected [batch, {}, {}, {}]",
           ShapeToString(std::vector<int64_t>(d.sizes().begin(), d.sizes().end())), c_, h_, w_);
  const int64_t batch = d.size(0);
  at::Tensor out = at::empty({batch, 2}, at::kFloat);
  const float* in = d.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const int64_t frame = c_ * h_ * w_;
  for (int64_t b = 0; b < batch; ++b) Run(in + b * frame, o + 2 * b);
  return out;
}

}  // namespace mainstream
