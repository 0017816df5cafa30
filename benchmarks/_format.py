"""Number and table formatting shared by the renderer and its sections."""


def fmt(value, unit='x'):
    if value is None:
        return '-'
    if unit == 'x':
        return f'{value:.2f}x'
    if unit == '%':
        return f'{value:.2f}%'
    if unit.strip() == 'us':
        return f'{value:.1f} us'
    return f'{value:.3g}'


def fmt_range(row, unit='x'):
    """``median [min-max]``, or the value alone for one sample."""
    if isinstance(row, dict) and 'median' in row:
        text = fmt(row['median'], unit)
        if row.get('n', 1) > 1:
            text += f' [{fmt(row["min"], unit)}-{fmt(row["max"], unit)}]'
        return text
    if isinstance(row, dict):  # a judged target row
        text = fmt(row['value'], row.get('unit', unit))
        if row.get('n', 1) > 1:
            text += f' [{fmt(row["min"], row.get("unit", unit))}-{fmt(row["max"], row.get("unit", unit))}]'
        return text
    return fmt(row, unit)


def num(row, digits=1, scale=1.0):
    """A summary's median with its min-max, in plain numbers."""
    if row is None:
        return '-'
    text = f'{row["median"] * scale:.{digits}f}'
    if row.get('n', 1) > 1:
        text += f' [{row["min"] * scale:.{digits}f}-{row["max"] * scale:.{digits}f}]'
    return text


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)
