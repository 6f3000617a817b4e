"""The preview: the audience's frame, scaled with aspect kept, through GL or a raster fallback.

Two widgets share one small API (``set_frame(frame, seq)``, ``grab_image()``, ``path``,
``frames_shown``, ``set_overlay(text)``):

* :class:`GLPreview` (``QOpenGLWidget``): each new frame is copied into a reusable host buffer
  and uploaded into a GL texture with ``QOpenGLTexture.setData`` (the numpy array itself is
  passed, never ``a.ctypes.data``), then drawn by ``QOpenGLTextureBlitter`` with a top-left
  origin (no upside-down image).
* :class:`RasterPreview` (``QWidget``): the same reusable buffer wrapped once in a ``QImage``
  (no copy) and drawn with ``QPainter.drawImage``.

:func:`choose_path` picks one: GL where a hardware GL driver is present, raster where GL is
missing (the ``offscreen`` platform) or software-rendered (Mesa llvmpipe draws ~100–180 fps at
832×480 here, ``drawImage`` ~1,200), and whatever ``$SFE_LIVE_PREVIEW`` (``gl`` / ``raster`` /
``auto``) or the settings ask for. The chosen path and the reason are shown in the window.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

log = logging.getLogger(__name__)

GL_VENDOR, GL_RENDERER, GL_VERSION = 0x1F00, 0x1F01, 0x1F02
SOFTWARE_MARKERS = ("llvmpipe", "softpipe", "swiftshader", "software", "swrast", "microsoft basic render")


class FrameBuffer:
    """A reusable, C-contiguous ``uint8 [H, W, 3]`` host buffer: frames are copied in, not re-allocated."""

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None
        self.generation = 0          # bumps when the size changes (textures / QImages must be rebuilt)

    def update(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an [H, W, 3] frame, got shape {frame.shape}")
        if self.array is None or self.array.shape != frame.shape:
            self.array = np.empty(frame.shape, dtype=np.uint8)
            self.generation += 1
        np.copyto(self.array, frame, casting="unsafe")
        return self.array


def fit_rect(src_w: int, src_h: int, dst_w: int, dst_h: int) -> QRect:
    """The largest rectangle of the source's aspect centred in the destination."""
    if src_w <= 0 or src_h <= 0 or dst_w <= 0 or dst_h <= 0:
        return QRect(0, 0, max(dst_w, 0), max(dst_h, 0))
    scale = min(dst_w / src_w, dst_h / src_h)
    w, h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return QRect((dst_w - w) // 2, (dst_h - h) // 2, w, h)


# ------------------------------------------------------------------------------- choosing
@dataclass(frozen=True)
class GLInfo:
    available: bool
    renderer: str = ""
    version: str = ""
    error: str = ""

    @property
    def software(self) -> bool:
        r = self.renderer.lower()
        return any(m in r for m in SOFTWARE_MARKERS)


_GL_INFO: Optional[GLInfo] = None


def probe_gl() -> GLInfo:
    """Ask the platform for a GL context once and read its renderer (cached)."""
    global _GL_INFO
    if _GL_INFO is not None:
        return _GL_INFO
    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal", "vnc"):
        _GL_INFO = GLInfo(False, error=f"the '{platform}' Qt platform has no GL widgets")
        return _GL_INFO
    try:
        from PySide6.QtGui import QOffscreenSurface, QOpenGLContext
        ctx = QOpenGLContext()
        if not ctx.create():
            _GL_INFO = GLInfo(False, error="no OpenGL context could be created")
            return _GL_INFO
        surface = QOffscreenSurface()
        surface.setFormat(ctx.format())
        surface.create()
        if not ctx.makeCurrent(surface):
            _GL_INFO = GLInfo(False, error="the OpenGL context could not be made current")
            return _GL_INFO
        f = ctx.functions()
        info = GLInfo(True, renderer=str(f.glGetString(GL_RENDERER) or ""),
                      version=str(f.glGetString(GL_VERSION) or ""))
        ctx.doneCurrent()
        surface.destroy()
        _GL_INFO = info
    except Exception as exc:  # a broken driver must not stop the app
        log.warning("GL probe failed: %s", exc)
        _GL_INFO = GLInfo(False, error=f"GL probe failed: {exc}")
    return _GL_INFO


def choose_path(preference: str = "auto", info: Optional[GLInfo] = None) -> tuple[str, str]:
    """("gl" | "raster", reason). ``$SFE_LIVE_PREVIEW`` overrides ``preference``."""
    pref = (os.environ.get("SFE_LIVE_PREVIEW") or preference or "auto").lower()
    if pref == "raster":
        return "raster", "raster chosen in settings"
    info = info or probe_gl()
    if not info.available:
        return "raster", f"no GL: {info.error}"
    short = info.renderer.split("(")[0].strip() or "unknown renderer"
    if pref == "gl":
        return "gl", f"GL chosen ({short})"
    if info.software:
        return "raster", f"software GL ({short}): raster is faster"
    return "gl", f"GL ({short})"


# ------------------------------------------------------------------------------- shared base
class _PreviewMixin:
    """State and drawing helpers common to both previews."""

    path = "?"

    def _init_preview(self) -> None:
        self.buffer = FrameBuffer()
        self.seq = -1
        self.frames_shown = 0       # frames uploaded (new seq numbers)
        self.overlay = ""
        self.has_frame = False

    def set_overlay(self, text: str) -> None:
        if text != self.overlay:
            self.overlay = text
            self.update()  # type: ignore[attr-defined]

    def _paint_overlay(self, p: QPainter, w: int, h: int) -> None:
        text = self.overlay or ("" if self.has_frame else "waiting for frames…")
        if not text:
            return
        f = QFont(p.font())
        f.setPointSize(12 if w > 300 else 8)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor(255, 255, 255, 200))
        p.drawText(QRect(0, 0, w, h), int(Qt.AlignmentFlag.AlignCenter), text)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(832, 480)


class RasterPreview(_PreviewMixin, QWidget):
    """QPainter.drawImage from a QImage that wraps the reusable buffer (no copy)."""

    path = "raster"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._init_preview()
        self._image: Optional[QImage] = None
        self._gen = -1
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)

    def set_frame(self, frame: np.ndarray, seq: int = 0) -> None:
        arr = self.buffer.update(frame)
        if self._gen != self.buffer.generation or self._image is None:
            h, w, _ = arr.shape
            self._image = QImage(arr.data, w, h, w * 3, QImage.Format.Format_RGB888)
            self._gen = self.buffer.generation
        self.seq = seq
        self.frames_shown += 1
        self.has_frame = True
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            r = fit_rect(self._image.width(), self._image.height(), self.width(), self.height())
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(r, self._image)
        self._paint_overlay(p, self.width(), self.height())
        p.end()

    def grab_image(self) -> QImage:
        return self.grab().toImage()


def _gl_preview_class() -> type:
    """Build the GL class lazily so importing this module never loads QtOpenGL."""
    from PySide6.QtOpenGL import (QOpenGLPixelTransferOptions, QOpenGLTexture, QOpenGLTextureBlitter)
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    class GLPreview(_PreviewMixin, QOpenGLWidget):
        """QOpenGLWidget: the reusable buffer is uploaded into a texture and blitted, aspect kept."""

        path = "gl"

        def __init__(self, parent: Optional[QWidget] = None) -> None:
            super().__init__(parent)
            self._init_preview()
            self._tex: Optional[QOpenGLTexture] = None
            self._tex_gen = -1
            self._dirty = False
            self._blitter: Optional[QOpenGLTextureBlitter] = None
            self._opts = QOpenGLPixelTransferOptions()
            self._opts.setAlignment(1)
            self.gl_error = ""
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.setMinimumSize(160, 90)

        def set_frame(self, frame: np.ndarray, seq: int = 0) -> None:
            self.buffer.update(frame)
            self._dirty = True
            self.seq = seq
            self.frames_shown += 1
            self.has_frame = True
            self.update()

        # -- GL side (GUI thread, context current) ------------------------------------------
        def initializeGL(self) -> None:  # noqa: N802 - Qt name
            ctx = self.context()
            ctx.aboutToBeDestroyed.connect(self._cleanup)
            self._blitter = QOpenGLTextureBlitter()
            if not self._blitter.create():
                self.gl_error = "QOpenGLTextureBlitter.create() failed"
                log.error(self.gl_error)

        def _ensure_texture(self, arr: np.ndarray) -> None:
            if self._tex is not None and self._tex_gen == self.buffer.generation:
                return
            if self._tex is not None:
                self._tex.destroy()
            h, w, _ = arr.shape
            tex = QOpenGLTexture(QOpenGLTexture.Target.Target2D)
            tex.setFormat(QOpenGLTexture.TextureFormat.RGB8_UNorm)
            tex.setSize(w, h)
            tex.setMinMagFilters(QOpenGLTexture.Filter.Linear, QOpenGLTexture.Filter.Linear)
            tex.setWrapMode(QOpenGLTexture.WrapMode.ClampToEdge)
            tex.allocateStorage(QOpenGLTexture.PixelFormat.RGB, QOpenGLTexture.PixelType.UInt8)
            self._tex, self._tex_gen = tex, self.buffer.generation

        def paintGL(self) -> None:  # noqa: N802 - Qt name
            f = self.context().functions()
            f.glClearColor(0.0, 0.0, 0.0, 1.0)
            f.glClear(0x00004000)  # GL_COLOR_BUFFER_BIT
            arr = self.buffer.array
            if arr is not None and self._blitter is not None and self._blitter.isCreated():
                self._ensure_texture(arr)
                assert self._tex is not None
                if self._dirty:
                    # the numpy array itself (buffer protocol); a raw pointer int would crash
                    self._tex.setData(QOpenGLTexture.PixelFormat.RGB, QOpenGLTexture.PixelType.UInt8, arr,
                                      self._opts)
                    self._dirty = False
                dpr = self.devicePixelRatioF()
                vw, vh = int(self.width() * dpr), int(self.height() * dpr)
                h, w, _ = arr.shape
                r = fit_rect(w, h, vw, vh)
                self._blitter.bind()
                self._blitter.blit(self._tex.textureId(),
                                   QOpenGLTextureBlitter.targetTransform(QRectF(r), QRect(0, 0, vw, vh)),
                                   QOpenGLTextureBlitter.Origin.OriginTopLeft)
                self._blitter.release()
            if self.overlay or not self.has_frame:
                p = QPainter(self)
                self._paint_overlay(p, self.width(), self.height())
                p.end()

        def _cleanup(self) -> None:
            self.makeCurrent()
            if self._tex is not None:
                self._tex.destroy()
                self._tex = None
            if self._blitter is not None:
                self._blitter.destroy()
                self._blitter = None
            self.doneCurrent()

        def grab_image(self) -> QImage:
            return self.grabFramebuffer()

    return GLPreview


_GL_CLASS: Optional[type] = None


def make_preview(path: str, parent: Optional[QWidget] = None) -> QWidget:
    """A preview widget for ``path`` ("gl" or "raster")."""
    global _GL_CLASS
    if path == "gl":
        try:
            if _GL_CLASS is None:
                _GL_CLASS = _gl_preview_class()
            return _GL_CLASS(parent)
        except Exception as exc:  # QtOpenGL missing in a stripped install
            log.warning("GL preview unavailable (%s); using raster", exc)
    return RasterPreview(parent)
