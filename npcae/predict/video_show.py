"""--show: a live window of the predicted clip and its frames per second, where a display exists.

    window = LiveWindow("camera:0")          # DataError (one line) when there is no display
    window.show(picture, fps)                # each frame as it is written; False once closed
    window.close()

Drawn with matplotlib (a dependency already): one image artist whose pixels are replaced each
frame, and a title with the rate achieved so far. Closing the window stops the clip as the end
of the input would (what a camera demo needs: it has no end of its own).
"""
import matplotlib

from ..data.folder import DataError

# Backends that draw into files or notebooks, never into a window.
NO_WINDOW = ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template")


def has_display(backend=None):
    """True when matplotlib's backend opens windows (it falls back to Agg with no display)."""
    backend = (backend or matplotlib.get_backend()).lower()
    return backend not in NO_WINDOW and "inline" not in backend


class LiveWindow:
    def __init__(self, title, backend=None):
        import matplotlib.pyplot as plt
        if not has_display(backend):
            raise DataError(f"--show needs a display, and matplotlib has none here (backend "
                            f"{matplotlib.get_backend()}); drop --show, or run where a window "
                            "can open")
        self._plt = plt
        self.title = title
        self.figure = plt.figure(num=f"npcae: {title}")
        self.axes = self.figure.add_axes((0, 0, 1, 0.93))
        self.axes.set_axis_off()
        self.image = None
        plt.show(block=False)

    def show(self, picture, fps):
        """Draw one frame (H, W, 3 or 4 uint8); False when the user has closed the window."""
        if not self._plt.fignum_exists(self.figure.number):
            return False
        if self.image is None or self.image.get_array().shape != picture.shape:
            self.axes.clear()
            self.axes.set_axis_off()
            self.image = self.axes.imshow(picture)
        else:
            self.image.set_data(picture)
        self.figure.suptitle(f"{self.title}: {fps:.1f} frames/s", fontsize=10)
        self.figure.canvas.draw_idle()
        self.figure.canvas.flush_events()
        return True

    def close(self):
        self._plt.close(self.figure)
