"""The L4T (Jetson Linux) release of the host vs the one the image was built for.

A JetPack container carries CUDA and TensorRT user-space libraries of one L4T release while the GPU
driver comes from the host; mixing releases fails late and obscurely (segfaults, "CUDA driver version is
insufficient"). So the entrypoint compares the two before anything touches the GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# The first line of /etc/nv_tegra_release, e.g. "# R36 (release), REVISION: 4.3, GCID: ..., BOARD: ...".
_TEGRA_LINE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?", re.IGNORECASE)
# An image tag or build argument, e.g. "r36.4.0", "R36.4", "36.4.3".
_TAG = re.compile(r"^[rR]?(\d+)\.(\d+)(?:\.(\d+))?$")

# JetPack releases by L4T version, for messages people can act on.
JETPACK = {
    (35, 4, 1): "5.1.2",
    (35, 5, 0): "5.1.3",
    (35, 6, 0): "5.1.4",
    (36, 2, 0): "6.0 DP",
    (36, 3, 0): "6.0",
    (36, 4, 0): "6.1",
    (36, 4, 3): "6.2",
    (36, 4, 4): "6.2.1",
}


class L4TPolicy(StrEnum):
    """What to do when the host's release differs from the image's."""

    STRICT = "strict"  # stop
    WARN = "warn"  # say so and go on
    OFF = "off"  # do not look


class Verdict(StrEnum):
    """Outcome of the comparison."""

    OK = "ok"
    WARN = "warn"
    STOP = "stop"


@dataclass(frozen=True, order=True)
class L4TRelease:
    """An L4T version: major release (R36), revision (4) and patch (3) = R36.4.3."""

    major: int
    revision: int
    patch: int = 0

    @classmethod
    def from_tag(cls, tag: str) -> L4TRelease:
        """Parse an image tag or build argument such as 'r36.4.0'."""
        match = _TAG.match(tag.strip())
        if not match:
            raise ValueError(f"L4T release {tag!r} is not of the form r36.4.0")
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    @classmethod
    def from_tegra_release(cls, text: str) -> L4TRelease:
        """Parse the contents of /etc/nv_tegra_release."""
        match = _TEGRA_LINE.search(text)
        if not match:
            first = text.strip().splitlines()[0] if text.strip() else "(empty)"
            raise ValueError(f"cannot read an L4T release from nv_tegra_release: {first!r}")
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    @property
    def jetpack(self) -> str:
        """The JetPack version this L4T release ships in, or '?' when not in our table."""
        return JETPACK.get((self.major, self.revision, self.patch), "?")

    def __str__(self) -> str:
        return f"R{self.major}.{self.revision}.{self.patch} (JetPack {self.jetpack})"


@dataclass(frozen=True)
class L4TCheck:
    """The verdict and a message that says what was compared and what to do."""

    verdict: Verdict
    message: str


def _advice(image: L4TRelease) -> str:
    """How to get an image that fits the host."""
    return (
        "rebuild the image for the host's release (docker compose build with --build-arg "
        "L4T_RELEASE=r<host release> and the matching base tags, see docker/Dockerfile.jetson), "
        f"or flash the host with JetPack {image.jetpack}"
    )


def compare(image: L4TRelease, host: L4TRelease, policy: L4TPolicy = L4TPolicy.STRICT) -> L4TCheck:
    """Same release and revision: fine (patch releases share user space); otherwise stop or warn."""
    if policy is L4TPolicy.OFF:
        return L4TCheck(Verdict.OK, "L4T check disabled")
    if (image.major, image.revision) == (host.major, host.revision):
        note = "" if image == host else " (patch releases differ; they share CUDA and TensorRT)"
        return L4TCheck(Verdict.OK, f"host L4T {host} fits image L4T {image}{note}")
    problem = (
        f"host runs L4T {host} but this image was built for L4T {image}: its CUDA and TensorRT "
        "need the GPU driver of the same release"
    )
    if policy is L4TPolicy.WARN:
        return L4TCheck(Verdict.WARN, f"{problem}; starting anyway because the L4T check is 'warn'")
    return L4TCheck(
        Verdict.STOP, f"{problem}. {_advice(image)}. To start anyway set the L4T check to 'warn'."
    )


def check_host(image_tag: str, host_text: str | None, policy: L4TPolicy = L4TPolicy.STRICT) -> L4TCheck:
    """Compare the image's release tag with the host's nv_tegra_release text (None: not visible)."""
    if policy is L4TPolicy.OFF:
        return L4TCheck(Verdict.OK, "L4T check disabled")
    image = L4TRelease.from_tag(image_tag)
    if host_text is None or not host_text.strip():
        problem = (
            "cannot see the host's L4T release: mount the host's /etc/nv_tegra_release read-only into "
            "the container (docker/compose.jetson.yaml does) and run it with the NVIDIA runtime"
        )
        verdict = Verdict.WARN if policy is L4TPolicy.WARN else Verdict.STOP
        return L4TCheck(verdict, problem)
    return compare(image, L4TRelease.from_tegra_release(host_text), policy)
