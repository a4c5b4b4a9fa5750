"""Interactive figures: sliders that redraw a matplotlib figure (JupyterLab and Colab).

``SliderFigure`` keeps its figure and its sliders as attributes, so a test can move a
slider (``widget.sliders["z1"].value = 1.5``) and check that the figure changed.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure


class SliderFigure:
    """A figure redrawn by ``draw(figure, **values)`` whenever a slider moves."""

    def __init__(self, draw: Callable[..., None], sliders: dict[str, widgets.ValueWidget],
                 figsize: tuple[float, float] = (6, 3)) -> None:
        self.draw = draw
        self.sliders = sliders
        self.output = widgets.Output()
        with plt.ioff():
            self.figure: Figure = plt.figure(figsize=figsize)
        plt.close(self.figure)  # out of pyplot's list, or the inline backend re-shows it later
        for slider in sliders.values():
            slider.observe(lambda _change: self.update(), names="value")
        self.update()

    def values(self) -> dict[str, float]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def update(self) -> None:
        """Redraw the figure from the sliders' current values."""
        self.figure.clear()
        self.draw(self.figure, **self.values())
        self.output.clear_output(wait=True)
        with self.output:
            display(self.figure)

    def show(self) -> widgets.Widget:
        """The sliders above the figure, ready to display in a notebook."""
        return widgets.VBox([widgets.HBox(list(self.sliders.values())), self.output])

    def _ipython_display_(self) -> None:
        display(self.show())


def slider(description: str, low: float, high: float, value: float, step: float = 0.01
           ) -> widgets.FloatSlider:
    """A float slider with continuous_update off, so a drag redraws once."""
    return widgets.FloatSlider(value=value, min=low, max=high, step=step,
                               description=description, continuous_update=False)
