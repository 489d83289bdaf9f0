//! Backend selection: `cpu` (burn's flex), `ndarray` (deprecated CPU backend, for comparison),
//! `wgpu` (GPU; needs the `wgpu` feature), `auto` (wgpu when an adapter exists, else cpu).

use burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Auto,
    Cpu,
    Ndarray,
    Wgpu,
}

pub struct Backend {
    pub device: Device,
    pub name: String,
    /// A GPU device (wgpu): it compiles its kernels per shape on first use.
    pub gpu: bool,
}

#[allow(deprecated)]
pub fn select(choice: BackendChoice) -> anyhow::Result<Backend> {
    match choice {
        BackendChoice::Cpu => Ok(Backend { device: Device::flex(), name: da3d::tensors::CPU_BACKEND.into(), gpu: false }),
        BackendChoice::Ndarray => ndarray(),
        BackendChoice::Wgpu => wgpu(),
        BackendChoice::Auto => match wgpu() {
            Ok(b) => Ok(b),
            Err(e) => {
                eprintln!("note: no GPU, using the CPU ({e})");
                Ok(Backend { device: Device::flex(), name: da3d::tensors::CPU_BACKEND.into(), gpu: false })
            }
        },
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
fn ndarray() -> anyhow::Result<Backend> {
    Ok(Backend { device: Device::ndarray(), name: "cpu (ndarray)".into(), gpu: false })
}

#[cfg(not(feature = "ndarray"))]
fn ndarray() -> anyhow::Result<Backend> {
    anyhow::bail!("this da3d was built without the ndarray backend; rebuild with `--features ndarray`")
}

#[cfg(feature = "wgpu")]
fn wgpu() -> anyhow::Result<Backend> {
    use burn::tensor::Tensor;
    // Probe the adapter: report a missing one as an error (wgpu may also panic without one).
    let probe = std::panic::catch_unwind(|| -> anyhow::Result<(Device, Vec<f32>)> {
        let device = Device::wgpu_options().init().map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Tensor::<1>::from_floats([1.0, 2.0], &device);
        let v: Vec<f32> = (t.clone() + t).into_data().try_to_vec::<f32>().unwrap_or_default();
        Ok((device, v))
    });
    match probe {
        Ok(Ok((device, v))) if v == vec![2.0, 4.0] => {
            let adapter = device.identity().map(|i| i.name).filter(|n| !n.is_empty());
            let name = format!("wgpu ({})", adapter.as_deref().unwrap_or("unnamed adapter"));
            Ok(Backend { device, name, gpu: true })
        }
        Ok(Ok(_)) => anyhow::bail!("the wgpu adapter computed a wrong result"),
        Ok(Err(e)) => anyhow::bail!("no wgpu adapter: {e}"),
        Err(_) => anyhow::bail!("no wgpu adapter found (no GPU, or no Vulkan/Metal/DX12 driver)"),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> anyhow::Result<Backend> {
    anyhow::bail!("this da3d was built without GPU support; rebuild with `--features wgpu`")
}
