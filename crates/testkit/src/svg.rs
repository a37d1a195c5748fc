//! Charts checked without a browser: the inline SVG of a report page, rasterised.

/// Rasterises each inline SVG chart of the page with resvg (no browser, no fonts: the charts' text is not
/// drawn, their series are) and counts, over all charts, the pixels of each colour (within a small
/// tolerance). Colours are (red, green, blue).
pub fn rendered_pixels(page: &str, colours: &[(u8, u8, u8)]) -> Vec<usize> {
    let mut counts = vec![0; colours.len()];
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..]
            .find("</svg>")
            .map(|e| start + e + "</svg>".len())
            .unwrap_or_else(|| panic!("an <svg> without its </svg>"));
        let tree = resvg::usvg::Tree::from_str(&rest[start..end], &resvg::usvg::Options::default())
            .unwrap_or_else(|e| panic!("a chart that is not valid SVG: {e}"));
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .unwrap_or_else(|| panic!("a chart of no size: {size:?}"));
        resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
        for pixel in pixmap.pixels() {
            let pixel = pixel.demultiply();
            for (count, colour) in counts.iter_mut().zip(colours) {
                let near = pixel.red().abs_diff(colour.0) <= 8
                    && pixel.green().abs_diff(colour.1) <= 8
                    && pixel.blue().abs_diff(colour.2) <= 8;
                *count += usize::from(near && pixel.alpha() > 200);
            }
        }
        rest = &rest[end..];
    }
    counts
}
