"""Packaging for tnn-lra, a JAX/Flax Long Range Arena suite built around Toeplitz neural networks."""

import setuptools

setuptools.setup(
    name="tnn-lra",
    version="0.1.0",
    description="Reproducible Long Range Arena benchmarks for Toeplitz neural networks in JAX/Flax.",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["tnn*", "tasks*", "configs*", "launch*", "results*"]),
    install_requires=[
        "jax>=0.6,<0.11",
        "flax>=0.11,<0.13",
        "optax>=0.2.4,<0.3",
        "ml-collections>=1.0,<2",
        "orbax-checkpoint>=0.11,<0.13",
        "wandb>=0.19,<1",
        "tensorflow-datasets>=4.9.8,<5",
        "array-record>=0.7,<1",
        "grain>=0.2.10,<0.3",
        "absl-py>=2.1,<3",
        "tqdm>=4.66,<5",
        "numpy>=1.26,<3",
        "pillow>=10,<13",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "chex>=0.1.88,<0.2"],
    },
)
